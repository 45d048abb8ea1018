"""faas_sdk.chain offline: SCALE primitives, the metadata-driven registry, storage keys, eras,
accounts, secp256k1 and the FaaS statement, on known vectors. (Agreement with @polkadot/types
on real chain data is proven by test/sdk/python-scale.test.ts.)"""

from __future__ import annotations

import pytest

from chain_metadata import metadata_bytes
from faas_sdk.chain import secp256k1
from faas_sdk.chain.client import OperatorResult, agreement, default_quorum
from faas_sdk.chain.keys import DEV_PHRASE, EcdsaKeypair, Keypair, mnemonic_to_entropy, mnemonic_to_mini_secret, seed_from_uri
from faas_sdk.chain.runtime import Era, Runtime
from faas_sdk.chain.scale import AccountId, Reader, ScaleError, decode_compact, encode_compact
from faas_sdk.chain.ss58 import ss58_decode, ss58_encode
from faas_sdk.chain.statement import MalformedResult, Statement, decode_result, encode_result, encode_statement, execute_args, output_hash, sign_statement, verify_statement

_RT = None


def rt() -> Runtime:
    global _RT
    if _RT is None:
        _RT = Runtime(metadata_bytes(), "0x" + "11" * 32)
    return _RT


@pytest.mark.parametrize(
    "n, hexed",
    [(0, "00"), (1, "04"), (63, "fc"), (64, "0101"), (16383, "fdff"), (16384, "02000100"), (2**30 - 1, "feffffff"), (2**30, "0300000040"), (2**64 - 1, "13ffffffffffffffff")],
)
def test_compact_known_vectors_and_round_trip(n: int, hexed: str) -> None:
    assert encode_compact(n).hex() == hexed
    assert decode_compact(Reader(bytes.fromhex(hexed))) == n


def test_ss58_round_trip_and_checksum() -> None:
    alice_sr = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY"
    key, fmt = ss58_decode(alice_sr)
    assert (key.hex(), fmt) == ("d43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d", 42)
    assert ss58_encode(key, 42) == alice_sr
    assert ss58_decode(ss58_encode(key, 5845)) == (key, 5845)  # a two-byte network prefix
    with pytest.raises(ValueError, match="checksum"):
        ss58_decode(alice_sr[:-1] + ("Z" if alice_sr[-1] != "Z" else "Y"))


def test_metadata_v15_is_read_with_pallets_calls_storage_and_signed_extensions() -> None:
    m = rt().metadata
    assert m.version == 15 and rt().spec_version == 1403 and rt().transaction_version == 1
    services = m.pallet("services")
    assert services.index == 51
    assert m.call_variant("Services", "submitResult")[1].index == 9
    assert m.storage_entry("Services", "jobResults").hashers == ("Identity", "Identity")
    assert m.storage_entry("System", "Account").hashers == ("Blake2_128Concat",)
    assert [e.identifier for e in m.signed_extensions][:9] == [
        "CheckNonZeroSender", "CheckSpecVersion", "CheckTxVersion", "CheckGenesis", "CheckMortality",
        "CheckNonce", "CheckWeight", "ChargeTransactionPayment", "CheckMetadataHash",
    ]  # fmt: skip
    assert m.constant("System", "SS58Prefix") == 42


def test_storage_keys_use_the_hashers_and_give_their_keys_back() -> None:
    alice = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY"
    key = rt().storage_key("System", "Account", alice)
    assert key[:32].hex() == "26aa394eea5630e07c48ae0c9558cef7b99d880ec681799c0cf30e8886371da9"
    assert len(key) == 32 + 16 + 32
    assert rt().decode_storage_key("System", "Account", key) == [AccountId(alice)]
    k = rt().storage_key("Services", "JobResults", 3, 2**40)
    assert k[32:] == (3).to_bytes(8, "little") + (2**40).to_bytes(8, "little")  # Identity
    assert rt().decode_storage_key("Services", "JobResults", k) == [3, 2**40]
    assert rt().storage_key("Services", "JobResults", 3) == k[:40]  # a prefix of the map
    with pytest.raises(ScaleError, match="takes 2 keys"):
        rt().storage_key("Services", "JobResults", 1, 2, 3)


def test_calls_encode_through_the_runtime_call_enum_and_decode_back() -> None:
    call = rt().encode_call("Services", "call", {"service_id": 7, "job": 0, "args": [{"String": "print(1)"}, {"String": "0x12"}]})
    assert call[:2] == bytes([51, 8])  # pallet index, call index
    assert rt().decode_call(call) == ("Services", "call", {"service_id": 7, "job": 0, "args": [{"String": b"print(1)"}, {"String": b"0x12"}]})
    with pytest.raises(ScaleError, match=r"service_id \(Compact<u64>\).*out of range for u64"):
        rt().encode_call("Services", "call", {"service_id": 2**64, "job": 0, "args": []})
    with pytest.raises(ScaleError, match=r"job \(Compact<u8>\).*out of range for u8"):
        rt().encode_call("Services", "call", {"service_id": 1, "job": 256, "args": []})
    with pytest.raises(ScaleError, match="needs field 'job'"):
        rt().encode_call("Services", "call", {"service_id": 1, "args": []})
    with pytest.raises(ScaleError, match="no call"):
        rt().encode_call("Services", "nope", {})


def test_mortal_eras_as_polkadot_makes_them() -> None:
    assert Era.mortal(1000, 64).encode().hex() == "8502"
    assert Era.mortal(12_345_678, 4096).encode().hex() == "eb14"
    assert Era.immortal().encode() == b"\x00"
    for era in (Era.mortal(1000, 64), Era.mortal(12_345_678, 4096), Era.mortal(5, 10)):
        assert Era.decode(Reader(era.encode())) == era
        assert era.birth(12_345_678 if era.period == 4096 else 1000 if era.period == 64 else 5) <= 12_345_678


def test_ed25519_accounts_from_uris_and_mnemonics() -> None:
    assert Keypair.from_uri("//Alice").address == "5FA9nQDVg267DEd8m1ZypXLBnvN7SFxYwV7ndqSYGiN9TTpu"
    assert Keypair.from_uri("//Bob").public_key.hex() == "d17c2d7823ebf260fd138f2d7e27d114c0145d968b5ff5006125f2414fadae69"
    assert mnemonic_to_mini_secret(DEV_PHRASE).hex() == "fac7959dbfe72f052e5a0c3c8d6530f202b02fd8f9f5ca3580ec8deb7797479e"
    assert Keypair.from_uri(DEV_PHRASE).address == Keypair.from_mnemonic(DEV_PHRASE).address
    with pytest.raises(ValueError, match="checksum"):
        mnemonic_to_entropy(" ".join(DEV_PHRASE.split()[:-1] + ["zoo"]))
    with pytest.raises(ValueError, match="soft key"):
        seed_from_uri("//Alice/soft")
    pair = Keypair.from_uri("//Alice")
    assert pair.verify(b"msg", pair.sign(b"msg")) and not pair.verify(b"msg2", pair.sign(b"msg"))


def test_secp256k1_sign_recover_verify() -> None:
    key = EcdsaKeypair.from_uri("//Bob")
    sig = key.sign(b"statement")
    assert len(sig) == 65 and sig[64] in (0, 1)
    assert int.from_bytes(sig[32:64], "big") <= secp256k1.N // 2  # low s
    assert secp256k1.verify(b"statement", sig, key.public_key)
    assert secp256k1.verify(b"statement", sig, key.compressed_public_key)
    assert secp256k1.verify(b"statement", sig[:64] + bytes([sig[64] + 27]), key.public_key)
    assert not secp256k1.verify(b"statement!", sig, key.public_key)
    assert not secp256k1.verify(b"statement", sig[:64] + bytes([sig[64] ^ 1]), key.public_key)  # wrong recovery id
    assert not secp256k1.verify(b"statement", sig, EcdsaKeypair.from_uri("//Alice").public_key)
    assert not secp256k1.verify(b"statement", sig[:-1], key.public_key)


def test_the_statement_its_signature_and_the_result_fields() -> None:
    out_hash = output_hash(0, "42\n", "")
    st = Statement("0x" + "01" * 32, 1, 2, 3, 0, "0x" + "02" * 32, "0x" + "03" * 32, 0, out_hash)
    encoded = encode_statement(st)
    assert encoded[:15] == b"\x38tangle-faas/v1" and len(encoded) == 15 + 32 + 24 + 1 + 32 + 32 + 1 + 32
    key = EcdsaKeypair.from_uri("//Bob")
    sig = sign_statement(key.secret, st)
    assert verify_statement(st, sig, "0x" + key.public_key.hex())
    for changed in (Statement(st.genesis_hash, 1, 2, 4, 0, st.args_hash, st.image_hash, 0, out_hash), Statement(st.genesis_hash, 9, 2, 3, 0, st.args_hash, st.image_hash, 0, out_hash), Statement(st.genesis_hash, 1, 2, 3, 0, st.args_hash, st.image_hash, 1, out_hash)):
        assert not verify_statement(changed, sig, key.public_key)
    assert not verify_statement(st, sig, key.compressed_public_key)  # the registered key is the 65-byte one
    fields = encode_result(0, "x" * 300, "", out_hash, "0x" + "03" * 32, sig)
    decoded = decode_result([{k: (v.encode() if isinstance(v, str) else v)} for f in fields for k, v in f.items()])
    assert (decoded.complete, len(decoded.stdout), decoded.signature) == (False, 256, sig)
    with pytest.raises(MalformedResult, match="7 fields"):
        decode_result(fields[:6])
    with pytest.raises(MalformedResult, match="should be Bool"):
        decode_result(fields[:3] + [{"Uint8": 1}] + fields[4:])
    with pytest.raises(ValueError, match="code: is 1025 bytes"):
        execute_args("x" * 1025, "python")


def test_quorum_and_agreement() -> None:
    assert [default_quorum(n) for n in (1, 2, 3, 4, 5)] == [1, 2, 2, 3, 3]
    a = OperatorResult("A", 0, output_hash="h1", image_hash="i", trusted=True, verified=True)
    b = OperatorResult("B", 0, output_hash="h1", image_hash="i", trusted=True, verified=True)
    c = OperatorResult("C", 0, output_hash="h2", image_hash="i", trusted=True, verified=True)
    x = OperatorResult("X", 0, output_hash="h2", image_hash="i", trusted=False, verified=False)
    again = OperatorResult("A", 0, output_hash="h2", image_hash="i", trusted=True, verified=True)
    agreed, dissent, rejected = agreement([c, a, x, b, again])
    assert ([r.operator for r in agreed], [r.operator for r in dissent], [r.operator for r in rejected]) == (["A", "B"], ["C"], ["X"])
