"""The FaaS blueprint's job contract as a client checks it (the Python twin of the TypeScript
``sdk/typescript/src/blueprint/statement.ts`` and ``sdk/typescript/src/blueprint/result.ts``).

* ``output_hash`` — blake2b-256 of SCALE ``(u8 exitCode, Vec<u8> stdout, Vec<u8> stderr)`` of
  the *whole* output;
* ``args_hash`` — blake2b-256 of the call's arguments as on-chain ``Vec<Field>``;
* the statement an operator signs: SCALE of ``Vec<u8>`` "tangle-faas/v1", ``[u8;32]`` genesis
  hash, ``u64`` blueprint id, ``u64`` service id, ``u64`` call id, ``u8`` job, ``[u8;32]`` args
  hash, ``[u8;32]`` image hash, ``u8`` exit code, ``[u8;32]`` output hash;
* its signature: 65-byte recoverable ECDSA (secp256k1) over blake2b-256 of those bytes, checked
  against the 65-byte key the operator registered for the blueprint;
* job 0's result: seven Fields — Uint8 exit code, String stdout and stderr (first 256 bytes),
  Bool complete, String output hash, String image hash, String signature.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, List, Mapping, Optional, Sequence, Tuple, Union

from . import secp256k1
from .hashing import blake2_256
from .scale import encode_compact

__all__ = [
    "STATEMENT_DOMAIN",
    "MAX_FIELD_BYTES",
    "ONCHAIN_OUTPUT_BYTES",
    "RESULT_LAYOUT",
    "Statement",
    "ResultFields",
    "MalformedResult",
    "output_hash",
    "encode_statement",
    "sign_statement",
    "verify_statement",
    "decode_result",
    "encode_result",
    "cap_bytes",
    "execute_args",
]

STATEMENT_DOMAIN = "tangle-faas/v1"
MAX_FIELD_BYTES = 1024
ONCHAIN_OUTPUT_BYTES = 256
EXECUTE_PARAMS = ("code", "language", "mode", "resources", "env_vars", "stdin")
RESULT_LAYOUT = (
    ("exit_code", "Uint8"),
    ("stdout", "String"),
    ("stderr", "String"),
    ("complete", "Bool"),
    ("output_hash", "String"),
    ("image_hash", "String"),
    ("signature", "String"),
)
_HASH = re.compile(r"^0x[0-9a-f]{64}$")
_SIGNATURE = re.compile(r"^0x[0-9a-f]{130}$")

Hex = Union[str, bytes]


def _b32(name: str, value: Hex) -> bytes:
    if isinstance(value, str):
        try:
            raw = bytes.fromhex(value[2:] if value.startswith("0x") else value)
        except ValueError:
            raise ValueError(f"statement field {name} is not hex") from None
    else:
        raw = bytes(value)
    if len(raw) != 32:
        raise ValueError(f"statement field {name} must be 32 bytes, got {len(raw)}")
    return raw


def output_hash(exit_code: int, stdout: str, stderr: str) -> str:
    """0x blake2b-256 of SCALE (u8 exit code, Vec<u8> stdout, Vec<u8> stderr)."""
    out = stdout.encode("utf-8")
    err = stderr.encode("utf-8")
    data = bytes([exit_code & 0xFF]) + encode_compact(len(out)) + out + encode_compact(len(err)) + err
    return "0x" + blake2_256(data).hex()


@dataclass(frozen=True)
class Statement:
    genesis_hash: Hex
    blueprint_id: int
    service_id: int
    call_id: int
    job: int
    args_hash: Hex
    image_hash: Hex
    exit_code: int
    output_hash: Hex


def encode_statement(s: Statement) -> bytes:
    domain = STATEMENT_DOMAIN.encode("utf-8")
    return b"".join(
        (
            encode_compact(len(domain)) + domain,
            _b32("genesis_hash", s.genesis_hash),
            int(s.blueprint_id).to_bytes(8, "little"),
            int(s.service_id).to_bytes(8, "little"),
            int(s.call_id).to_bytes(8, "little"),
            bytes([s.job & 0xFF]),
            _b32("args_hash", s.args_hash),
            _b32("image_hash", s.image_hash),
            bytes([s.exit_code & 0xFF]),
            _b32("output_hash", s.output_hash),
        )
    )


def sign_statement(secret_key: bytes, s: Statement) -> str:
    """0x r‖s‖v over blake2b-256 of the statement (what an operator submits)."""
    return "0x" + secp256k1.sign(secret_key, encode_statement(s)).hex()


def verify_statement(s: Statement, signature: Hex, registered_key: Hex) -> bool:
    """Whether ``signature`` over the statement is by the holder of ``registered_key``
    (the 65-byte uncompressed SEC1 key an operator registered)."""
    try:
        sig = bytes.fromhex(signature[2:]) if isinstance(signature, str) else bytes(signature)
        key = bytes.fromhex(registered_key[2:]) if isinstance(registered_key, str) else bytes(registered_key)
        if len(key) != 65 or key[0] != 4:
            return False
        return secp256k1.verify(encode_statement(s), sig, key)
    except ValueError:
        return False


class MalformedResult(ValueError):
    """A result's Fields are not the ``execute`` job's result layout."""


@dataclass(frozen=True)
class ResultFields:
    exit_code: int
    stdout: str  # on-chain copies: at most 256 bytes each
    stderr: str
    complete: bool
    output_hash: str
    image_hash: str
    signature: str


def _field_text(value: Any) -> str:
    return bytes(value).decode("utf-8", errors="replace") if isinstance(value, (bytes, bytearray)) else str(value)


def decode_result(fields: Sequence[Any]) -> ResultFields:
    """A result's decoded Fields (``[{"Uint8": 0}, {"String": b"..."}, …]``) read back."""
    if len(fields) != len(RESULT_LAYOUT):
        raise MalformedResult(f"a result has {len(RESULT_LAYOUT)} fields, this one {len(fields)}")
    values: List[Any] = []
    for (name, kind), f in zip(RESULT_LAYOUT, fields):
        if not isinstance(f, Mapping) or len(f) != 1 or kind not in f:
            got = next(iter(f)) if isinstance(f, Mapping) and f else f
            raise MalformedResult(f"result field {name} should be {kind}, is {got}")
        values.append(f[kind])
    exit_code, stdout, stderr, complete, out_hash, image, signature = values
    out_hash, image, signature = _field_text(out_hash), _field_text(image), _field_text(signature)
    if not _HASH.match(out_hash):
        raise MalformedResult("result field output_hash is not a 0x-prefixed 32-byte hash")
    if not _HASH.match(image):
        raise MalformedResult("result field image_hash is not a 0x-prefixed 32-byte hash")
    if not _SIGNATURE.match(signature):
        raise MalformedResult("result field signature is not a 0x-prefixed 65-byte signature")
    return ResultFields(int(exit_code), _field_text(stdout), _field_text(stderr), bool(complete), out_hash, image, signature)


def cap_bytes(text: str, limit: int = ONCHAIN_OUTPUT_BYTES) -> Tuple[str, bool]:
    """``text`` cut to at most ``limit`` UTF-8 bytes without splitting a character; and whether it was cut."""
    raw = text.encode("utf-8")
    if len(raw) <= limit:
        return text, False
    end = limit
    while end > 0 and (raw[end] & 0xC0) == 0x80:
        end -= 1
    return raw[:end].decode("utf-8"), True


def encode_result(exit_code: int, stdout: str, stderr: str, output_hash_: str, image_hash: str, signature: str) -> List[Any]:
    """The result Fields for ``services.submit_result`` (for tools and tests acting as an operator)."""
    out, out_cut = cap_bytes(stdout)
    err, err_cut = cap_bytes(stderr)
    return [
        {"Uint8": exit_code & 0xFF},
        {"String": out},
        {"String": err},
        {"Bool": not out_cut and not err_cut},
        {"String": output_hash_},
        {"String": image_hash},
        {"String": signature},
    ]


def execute_args(code: str, language: str, mode: Optional[str] = None, resources: Optional[Mapping[str, Any]] = None, env_vars: Optional[Mapping[str, str]] = None, stdin: Optional[str] = None) -> List[Any]:
    """Job 0 ``execute``'s six String Fields, as ``services.call`` takes them."""
    values = [
        code,
        language,
        mode or "",
        json.dumps(dict(resources), separators=(",", ":"), ensure_ascii=False) if resources else "",
        json.dumps(dict(env_vars), separators=(",", ":"), ensure_ascii=False) if env_vars else "",
        stdin or "",
    ]
    for name, v in zip(EXECUTE_PARAMS, values):
        if not isinstance(v, str):
            raise TypeError(f"{name} must be a str")
        size = len(v.encode("utf-8"))
        if size > MAX_FIELD_BYTES:
            raise ValueError(f"{name}: is {size} bytes; on-chain arguments are at most {MAX_FIELD_BYTES} (use the operator API for larger ones)")
    return [{"String": v} for v in values]
