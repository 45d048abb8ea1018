"""An operator these tests drive by hand (an ed25519 account with a registered ecdsa key): it
submits whatever result a test wants — honest, forged, signed with another key — and serves a
full-output API whose answers the test chooses."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Dict, Optional

from faas_sdk.chain import ChainClient, EcdsaKeypair, Keypair, Statement, Receipt, output_hash, sign_statement
from faas_sdk.chain.hashing import blake2_256
from faas_sdk.chain.statement import encode_result

IMAGE_HASH = "0x" + "ab" * 32


class OutputServer:
    """``GET /v1/outputs/{hash}`` answering from ``outputs`` (hash -> {exitCode, stdout, stderr})."""

    def __init__(self, port: int) -> None:
        self.outputs: Dict[str, dict] = {}
        outputs = self.outputs

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                key = self.path.rsplit("/", 1)[-1]
                body = outputs.get(key) if self.path.startswith("/v1/outputs/") else None
                data = json.dumps(body if body is not None else {"message": "not found"}).encode()
                self.send_response(200 if body is not None else 404)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class HandOperator:
    def __init__(self, chain: ChainClient, uri: str) -> None:
        self.chain = chain
        self.account = Keypair.from_uri(uri)
        self.key = EcdsaKeypair.from_uri(uri)

    @property
    def address(self) -> str:
        return self.chain.runtime.account(self.account.public_key).ss58

    async def statement(self, service_id: int, call_id: int, exit_code: int, out_hash: str, image_hash: str = IMAGE_HASH) -> Statement:
        """The statement for a call as the chain has it: blueprint of the service, args hash of the call."""
        rt = self.chain.runtime
        service = await self.chain.query("Services", "Instances", service_id)
        call = await self.chain.query("Services", "JobCalls", service_id, call_id)
        _, v = rt.metadata.call_variant("Services", "call")
        args_type = next(f.type for f in v.fields if f.name == "args")
        args_hash = blake2_256(rt.registry.encode(args_type, call["args"]))
        return Statement(rt.genesis_hash, int(service["blueprint"]), service_id, call_id, int(call["job"]), args_hash, image_hash, exit_code, out_hash)

    async def submit(
        self,
        service_id: int,
        call_id: int,
        stdout: str,
        stderr: str = "",
        exit_code: int = 0,
        *,
        image_hash: str = IMAGE_HASH,
        signer: Optional[EcdsaKeypair] = None,
        out_hash: Optional[str] = None,
    ) -> Receipt:
        """Submits a result for the call: by default honest about ``stdout``/``stderr`` and signed
        with the registered key; ``signer`` signs with another key, ``out_hash`` claims another hash."""
        h = out_hash or output_hash(exit_code, stdout, stderr)
        st = await self.statement(service_id, call_id, exit_code, h, image_hash)
        signature = sign_statement((signer or self.key).secret, st)
        fields = encode_result(exit_code, stdout, stderr, h, image_hash, signature)
        return await self.chain.sign_and_submit(self.account, "Services", "submit_result", {"service_id": service_id, "call_id": call_id, "result": fields})
