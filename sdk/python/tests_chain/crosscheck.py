"""Runs the Python codec on cases the TypeScript test (test/sdk/python-scale.test.ts) also runs
through @polkadot/types, and prints the answers as one JSON line for it to compare.

stdin: {"metadata": path or 0x hex, "genesisHash": 0x…, "calls": [...], "extrinsics": [...],
"storageKeys": [...], "storageValues": [...], "events": [...], "keys": [...], "ecdsa": [...]}.
JSON cannot carry every SCALE value, so inside call arguments and keys {"$int": "…"} is an int
and {"$hex": "0x…"} is bytes.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from faas_sdk.chain import secp256k1  # noqa: E402
from faas_sdk.chain.keys import EcdsaKeypair, Keypair  # noqa: E402
from faas_sdk.chain.runtime import Era, Runtime  # noqa: E402
from faas_sdk.chain.scale import AccountId, Registry, camel_case  # noqa: E402
from faas_sdk.chain.hashing import blake2_256  # noqa: E402
from faas_sdk.chain.statement import Statement, encode_statement, execute_args, output_hash, verify_statement  # noqa: E402


def from_json(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"$int"}:
            return int(value["$int"])
        if set(value) == {"$hex"}:
            return bytes.fromhex(value["$hex"][2:])
        return {k: from_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_json(v) for v in value]
    return value


def canon_fields(reg: Registry, fields: Any, value: Any) -> Any:
    if not fields:
        return None
    if all(f.name for f in fields):
        return {camel_case(f.name): canon(reg, f.type, value[f.name]) for f in fields}
    if len(fields) == 1:
        return canon(reg, fields[0].type, value)
    return [canon(reg, f.type, v) for f, v in zip(fields, value)]


def canon(reg: Registry, tid: int, value: Any) -> Any:
    """The shape the TypeScript side makes of a @polkadot/types codec: ints as decimal strings,
    bytes (and accounts) as 0x hex, structs with camelCase keys, enums as "Name" when no
    variant carries data, else {"Name": value}."""
    t = reg[tid]
    if t.kind == "primitive":
        return value if t.primitive in ("bool", "str", "char") else str(value)
    if t.kind == "compact":
        return None if value is None else str(value)
    if t.kind in ("sequence", "array"):
        if reg.is_u8(t.inner):
            return "0x" + bytes(value).hex()
        return [canon(reg, t.inner, v) for v in value]
    if t.kind == "tuple":
        return None if not t.items else [canon(reg, i, v) for i, v in zip(t.items, value)]
    if t.kind == "composite":
        if isinstance(value, AccountId):
            return "0x" + bytes(value).hex()
        return canon_fields(reg, t.fields, value)
    if t.kind == "variant":
        if reg.is_option(t):
            return None if value is None else canon(reg, t.by_name["Some"].fields[0].type, value)
        if all(not v.fields for v in t.variants):
            return value
        if isinstance(value, str):
            return {value: None}
        (name, inner), = value.items()
        return {name: canon_fields(reg, t.by_name[name].fields, inner)}
    if t.kind == "bitsequence":
        return [bool(b) for b in value]
    raise ValueError(t.kind)


def main() -> None:
    req = json.loads(sys.stdin.read())
    meta = req["metadata"]
    source = meta if meta.startswith("0x") else Path(meta).read_bytes()
    rt = Runtime(source, req.get("genesisHash", "0x" + "00" * 32))
    reg = rt.registry
    out: dict = {}
    out["calls"] = ["0x" + rt.encode_call(c["pallet"], c["call"], from_json(c["args"])).hex() for c in req.get("calls", [])]
    exts = []
    for x in req.get("extrinsics", []):
        pair = Keypair.from_uri(x["uri"])
        call = rt.encode_call(x["call"]["pallet"], x["call"]["call"], from_json(x["call"]["args"]))
        era = Era.mortal(x["era"]["current"], x["era"]["period"]) if x.get("era") else Era.immortal()
        exts.append("0x" + rt.sign_extrinsic(pair, call, x["nonce"], era, int(x.get("tip", "0")), x.get("blockHash")).hex())
    out["extrinsics"] = exts
    out["storageKeys"] = ["0x" + rt.storage_key(k["pallet"], k["item"], *from_json(k["keys"])).hex() for k in req.get("storageKeys", [])]
    values = []
    for v in req.get("storageValues", []):
        entry = rt.metadata.storage_entry(v["pallet"], v["item"])
        values.append(canon(reg, entry.value_type, rt.decode_storage(v["pallet"], v["item"], v["hex"])))
    out["storageValues"] = values
    events = []
    for blob in req.get("events", []):
        evs = []
        for e in rt.decode_events(blob):
            fields = e.variant.fields
            if not fields:
                data: list = []
            elif all(f.name for f in fields):
                data = [canon(reg, f.type, e.fields[f.name]) for f in fields]
            elif len(fields) == 1:
                data = [canon(reg, fields[0].type, e.fields)]
            else:
                data = [canon(reg, f.type, v) for f, v in zip(fields, e.fields)]
            phase = e.phase if isinstance(e.phase, str) else {k: str(v) for k, v in e.phase.items()}
            evs.append({"phase": phase, "section": e.pallet.lower(), "method": e.name, "names": [camel_case(f.name) for f in fields] if fields and all(f.name for f in fields) else None, "data": data, "topics": ["0x" + t.hex() for t in e.topics]})
        events.append(evs)
    out["events"] = events
    out["keys"] = [{"address": Keypair.from_uri(k["uri"]).address, "publicKey": "0x" + Keypair.from_uri(k["uri"]).public_key.hex()} for k in req.get("keys", [])]
    ecdsa = []
    for k in req.get("ecdsa", []):
        pair = EcdsaKeypair.from_uri(k["uri"])
        msg = bytes.fromhex(k["message"][2:])
        sig = pair.sign(msg)
        ecdsa.append({
            "publicKey": "0x" + pair.compressed_public_key.hex(),
            "uncompressed": "0x" + pair.public_key.hex(),
            "signature": "0x" + sig.hex(),
            "verifiesTheirs": secp256k1.verify(msg, bytes.fromhex(k["theirSignature"][2:]), pair.public_key),
        })
    out["ecdsa"] = ecdsa
    statements = []
    for x in req.get("statements", []):
        st = x["statement"]
        statement = Statement(st["genesisHash"], int(st["blueprintId"]), int(st["serviceId"]), int(st["callId"]), st["job"], st["argsHash"], st["imageHash"], st["exitCode"], st["outputHash"])
        pair = EcdsaKeypair.from_uri(x["uri"])
        theirs = x["theirSignature"]
        # The same signature over a statement for another call must not verify.
        other = Statement(statement.genesis_hash, statement.blueprint_id, statement.service_id, statement.call_id + 1, statement.job, statement.args_hash, statement.image_hash, statement.exit_code, statement.output_hash)
        statements.append({
            "encoded": "0x" + encode_statement(statement).hex(),
            "signature": "0x" + pair.sign(encode_statement(statement)).hex(),
            "verifiesTheirs": verify_statement(statement, theirs, x["registeredKey"]),
            "rejectsTheirsForAnotherCall": not verify_statement(other, theirs, x["registeredKey"]),
            "rejectsTheirsForAnotherKey": not verify_statement(statement, theirs, "0x" + EcdsaKeypair.from_uri("//Someone").public_key.hex()),
        })
    out["statements"] = statements
    out["outputHashes"] = [output_hash(o["exitCode"], o["stdout"], o["stderr"]) for o in req.get("outputs", [])]
    _, call = rt.metadata.call_variant("Services", "call")
    args_type = next(f.type for f in call.fields if f.name == "args")
    out["argsHashes"] = [
        "0x" + blake2_256(reg.encode(args_type, execute_args(a["code"], a["language"], a.get("mode"), a.get("resources"), a.get("envVars"), a.get("stdin")))).hex()
        for a in req.get("args", [])
    ]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
