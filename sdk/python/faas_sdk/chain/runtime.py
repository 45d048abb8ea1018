"""A runtime as seen from a client: its metadata, version and genesis, and what they allow —
calls by pallet and call name, signed (v4) extrinsics with the runtime's own signed
extensions, storage keys with their hashers, storage values, and System.Events."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from .hashing import CONCAT_PREFIX_LEN, blake2_256, hash_key, twox128
from .metadata import Metadata, StorageEntry, decode_metadata
from .scale import AccountId, Raw, Reader, ScaleError, TypeVariant, camel_case, encode_compact

__all__ = ["Era", "Runtime", "Event", "DispatchFailure"]


@dataclass(frozen=True)
class Era:
    """A transaction's era: immortal, or mortal for ``period`` blocks from the block it names.

    ``Era.mortal(current, period=64)`` is born at block ``current`` (whose hash is then signed),
    as ``@polkadot/api`` makes it; the period is rounded to a power of two in [4, 65536].
    """

    period: int = 0  # 0: immortal
    phase: int = 0

    @classmethod
    def immortal(cls) -> "Era":
        return cls()

    @classmethod
    def mortal(cls, current: int, period: int = 64) -> "Era":
        p = 1 << max(2, min(16, (max(period, 1) - 1).bit_length()))
        phase = current % p
        quantize = max(p >> 12, 1)
        return cls(p, phase // quantize * quantize)

    @property
    def is_immortal(self) -> bool:
        return self.period == 0

    def encode(self) -> bytes:
        if self.is_immortal:
            return b"\x00"
        quantize = max(self.period >> 12, 1)
        trailing = (self.period & -self.period).bit_length() - 1
        encoded = min(max(trailing - 1, 1), 15) | ((self.phase // quantize) << 4)
        return encoded.to_bytes(2, "little")

    @classmethod
    def decode(cls, r: Reader) -> "Era":
        first = r.byte()
        if first == 0:
            return cls()
        encoded = first | (r.byte() << 8)
        period = 2 << (encoded % (1 << 4))
        quantize = max(period >> 12, 1)
        return cls(period, (encoded >> 4) * quantize)

    def birth(self, current: int) -> int:
        if self.is_immortal:
            return 0
        return (max(current, self.phase) - self.phase) // self.period * self.period + self.phase

    def death(self, current: int) -> int:
        return 2**64 - 1 if self.is_immortal else self.birth(current) + self.period


@dataclass
class Event:
    """One System.Events record: ``pallet``, ``name``, ``fields`` (dict for named fields, else a
    tuple), ``phase`` (``{"ApplyExtrinsic": i}``, ``"Finalization"``, ``"Initialization"``)."""

    pallet: str
    name: str
    fields: Any
    phase: Any
    topics: List[bytes]
    pallet_index: int
    event_index: int
    variant: TypeVariant = field(repr=False)

    @property
    def extrinsic_index(self) -> Optional[int]:
        return self.phase.get("ApplyExtrinsic") if isinstance(self.phase, dict) else None

    def __getitem__(self, key: Union[str, int]) -> Any:
        """A field by name (snake_case or camelCase) or position."""
        if isinstance(key, int):
            if isinstance(self.fields, dict):
                return list(self.fields.values())[key]
            return self.fields[key] if isinstance(self.fields, tuple) else self.fields
        if isinstance(self.fields, dict):
            for name, value in self.fields.items():
                if key in (name, camel_case(name)):
                    return value
        raise KeyError(key)


class DispatchFailure(Exception):
    """A call was included but failed (System.ExtrinsicFailed): ``pallet``, ``error``, ``docs``."""

    def __init__(self, pallet: str, error: str, docs: str = "", raw: Any = None) -> None:
        super().__init__(f"{pallet}.{error}" + (f": {docs}" if docs else ""))
        self.pallet = pallet
        self.error = error
        self.docs = docs
        self.raw = raw


class Runtime:
    """Everything needed to talk to one runtime version.

    Args:
        metadata: the decoded metadata (or its bytes/hex from ``state_getMetadata``).
        genesis_hash: 32 bytes (or 0x hex) of block 0.
        spec_version, transaction_version: the runtime version (default: System.Version).
    """

    def __init__(
        self,
        metadata: Union[Metadata, bytes, str],
        genesis_hash: Union[bytes, str] = b"\0" * 32,
        spec_version: Optional[int] = None,
        transaction_version: Optional[int] = None,
    ) -> None:
        self.metadata = metadata if isinstance(metadata, Metadata) else decode_metadata(metadata)
        self.registry = self.metadata.registry
        self.genesis_hash = _hash32(genesis_hash)
        version: Dict[str, Any] = {}
        if spec_version is None or transaction_version is None:
            version = self.metadata.constant("System", "Version")  # type: ignore[assignment]
        self.spec_version = spec_version if spec_version is not None else int(version["spec_version"])
        self.transaction_version = transaction_version if transaction_version is not None else int(version["transaction_version"])
        self.ss58_format = self.registry.ss58_format
        events = self.metadata.storage_entry("System", "Events")
        self._events_entry = events

    # -- calls ----------------------------------------------------------------------------------

    def encode_call(self, pallet: str, call: str, args: Union[Mapping[str, Any], Sequence[Any], None] = None) -> bytes:
        """The RuntimeCall ``pallet.call(args)``; args by name (snake_case or camelCase) or in order."""
        p, v = self.metadata.call_variant(pallet, call)
        if args is None:
            args = {}
        if not isinstance(args, Mapping):
            args = list(args)
            if len(args) != len(v.fields):
                raise ScaleError(f"{p.name}.{v.name} takes {len(v.fields)} arguments ({', '.join(f.name or '?' for f in v.fields)}), got {len(args)}")
            args = {f.name or str(i): a for i, (f, a) in enumerate(zip(v.fields, args))}
        # Through the outer RuntimeCall enum, as the chain decodes it.
        return self.registry.encode(self.metadata.call_type, {p.name: {v.name: dict(args)}})

    def decode_call(self, data: Union[bytes, Reader]) -> Tuple[str, str, Any]:
        """(pallet, call, args) of an encoded RuntimeCall."""
        value = self.registry.decode(self.metadata.call_type, data)
        (pallet, inner), = value.items()
        if isinstance(inner, str):
            return pallet, inner, {}
        (call, args), = inner.items()
        return pallet, call, args

    # -- extrinsics -----------------------------------------------------------------------------

    def signed_extension_values(self, nonce: int, era: Era, tip: int, block_hash: bytes) -> Tuple[bytes, bytes]:
        """(extra, additional signed) for the runtime's signed extensions, in its order."""
        extra = bytearray()
        additional = bytearray()
        reg = self.registry
        for ext in self.metadata.signed_extensions:
            ident = ext.identifier
            if ident in ("CheckMortality", "CheckEra"):
                x: Any = Raw(era.encode())
                a: Any = self.genesis_hash if era.is_immortal else block_hash
            elif ident == "CheckNonce":
                x, a = nonce, None
            elif ident == "ChargeTransactionPayment":
                x, a = tip, None
            elif ident == "ChargeAssetTxPayment":
                x, a = {"tip": tip, "asset_id": None}, None
            elif ident == "CheckSpecVersion":
                x, a = None, self.spec_version
            elif ident == "CheckTxVersion":
                x, a = None, self.transaction_version
            elif ident == "CheckGenesis":
                x, a = None, self.genesis_hash
            elif ident == "CheckMetadataHash":
                # Mode Disabled, so no metadata hash is signed.
                x, a = {"mode": "Disabled"}, None
            elif reg.is_empty(ext.type) and reg.is_empty(ext.additional_signed):
                x, a = None, None  # CheckNonZeroSender, CheckWeight, and runtime-specific no-ops
            else:
                raise ScaleError(f"signed extension {ident} carries data this client does not know how to fill")
            extra += reg.encode(ext.type, x)
            additional += reg.encode(ext.additional_signed, a)
        return bytes(extra), bytes(additional)

    def signing_payload(self, call: bytes, nonce: int, era: Era, tip: int = 0, block_hash: Optional[bytes] = None) -> bytes:
        """The bytes a v4 signature covers (blake2b-256 of them when longer than 256 bytes)."""
        extra, additional = self.signed_extension_values(nonce, era, tip, _hash32(block_hash) if block_hash else self.genesis_hash)
        payload = bytes(call) + extra + additional
        return blake2_256(payload) if len(payload) > 256 else payload

    def sign_extrinsic(self, signer: Any, call: bytes, nonce: int, era: Optional[Era] = None, tip: int = 0, block_hash: Optional[Union[bytes, str]] = None) -> bytes:
        """A signed v4 extrinsic (length-prefixed, as author_submitExtrinsic takes it).

        ``signer`` has ``public_key`` and ``sign(bytes)`` and a ``crypto`` of ed25519 (or ecdsa);
        ``block_hash`` is the hash of the era's birth block (ignored for an immortal era).
        """
        era = era or Era.immortal()
        bh = self.genesis_hash if era.is_immortal else _hash32(block_hash if block_hash is not None else b"")
        extra, _ = self.signed_extension_values(nonce, era, tip, bh)
        signature = signer.sign(self.signing_payload(call, nonce, era, tip, bh))
        crypto = getattr(signer, "crypto", "ed25519")
        variant = {"ed25519": "Ed25519", "sr25519": "Sr25519", "ecdsa": "Ecdsa"}[crypto]
        account = signer.public_key if crypto != "ecdsa" else blake2_256(signer.compressed_public_key)
        address = self.registry.encode(self.metadata.address_type, {"Id": account})
        sig = self.registry.encode(self.metadata.signature_type, {variant: signature})
        body = bytes([0x80 | self.metadata.extrinsic_version]) + address + sig + extra + bytes(call)
        return encode_compact(len(body)) + body

    # -- storage --------------------------------------------------------------------------------

    def storage_prefix(self, pallet: str, item: str) -> bytes:
        e = self.metadata.storage_entry(pallet, item)
        return twox128(e.prefix.encode()) + twox128(e.name.encode())

    def storage_key(self, pallet: str, item: str, *keys: Any) -> bytes:
        """The key of ``pallet.item(*keys)``; fewer keys than hashers give a prefix of a map."""
        e = self.metadata.storage_entry(pallet, item)
        out = self.storage_prefix(pallet, item)
        if not e.is_map:
            if keys:
                raise ScaleError(f"{e.pallet}.{e.name} is a plain value and takes no key")
            return out
        key_types = self._key_types(e)
        if len(keys) > len(key_types):
            raise ScaleError(f"{e.pallet}.{e.name} takes {len(key_types)} keys, got {len(keys)}")
        for hasher, tid, key in zip(e.hashers, key_types, keys):
            out += hash_key(hasher, self.registry.encode(tid, key))
        return out

    def _key_types(self, e: StorageEntry) -> List[int]:
        assert e.key_type is not None
        if len(e.hashers) == 1:
            return [e.key_type]
        t = self.registry[e.key_type]
        if t.kind != "tuple" or len(t.items) != len(e.hashers):
            raise ScaleError(f"{e.pallet}.{e.name}: {len(e.hashers)} hashers but its key is not a tuple of as many")
        return list(t.items)

    def decode_storage_key(self, pallet: str, item: str, key: Union[bytes, str]) -> List[Any]:
        """The keys of a full storage key, for hashers that keep them (…Concat, Identity)."""
        e = self.metadata.storage_entry(pallet, item)
        r = Reader(_bytes(key))
        if r.read(32) != self.storage_prefix(pallet, item):
            raise ScaleError(f"not a key of {e.pallet}.{e.name}")
        out = []
        for hasher, tid in zip(e.hashers, self._key_types(e)):
            if hasher not in CONCAT_PREFIX_LEN:
                raise ScaleError(f"the {hasher} hasher does not keep the key")
            r.read(CONCAT_PREFIX_LEN[hasher])
            out.append(self.registry.decode(tid, r))
        return out

    def decode_storage(self, pallet: str, item: str, data: Union[bytes, str, None]) -> Any:
        """The value stored (``None`` for nothing stored in an Optional item; the default for a
        Default one). Tangle's Optional items carry a fallback: nothing stored is still ``None``."""
        e = self.metadata.storage_entry(pallet, item)
        if data is None:
            return None if e.optional else self.registry.decode(e.value_type, e.default)
        return self.registry.decode(e.value_type, _bytes(data))

    # -- events ---------------------------------------------------------------------------------

    def decode_events(self, data: Union[bytes, str, None]) -> List[Event]:
        """System.Events as stored in a block."""
        if data is None:
            return []
        records = self.registry.decode(self._events_entry.value_type, _bytes(data))
        runtime_event = self.registry[self._event_record_event_type()]
        out = []
        for rec in records:
            (pallet, inner), = rec["event"].items()
            pallet_variant = runtime_event.by_name[pallet]
            pallet_event_type = self.registry[pallet_variant.fields[0].type]
            if isinstance(inner, str):
                name, fields = inner, None
            else:
                (name, fields), = inner.items()
            v = pallet_event_type.by_name[name]
            out.append(Event(pallet, name, fields, rec["phase"], list(rec["topics"]), pallet_variant.index, v.index, v))
        return out

    def _event_record_event_type(self) -> int:
        vec = self.registry[self._events_entry.value_type]
        record = self.registry[vec.inner]
        return next(f.type for f in record.fields if f.name == "event")

    def dispatch_error(self, error: Any) -> DispatchFailure:
        """A DispatchError value (as decoded) as an exception with the pallet's error name."""
        if isinstance(error, dict) and "Module" in error:
            m = error["Module"]
            pallet, name, docs = self.metadata.module_error(m["index"], bytes(m["error"]))
            return DispatchFailure(pallet, name, docs, error)
        if isinstance(error, dict):
            (kind, detail), = error.items()
            return DispatchFailure("DispatchError", kind, str(detail), error)
        return DispatchFailure("DispatchError", str(error), "", error)

    def account(self, value: Union[bytes, str]) -> AccountId:
        return AccountId(value, self.ss58_format)


def _bytes(data: Union[bytes, str]) -> bytes:
    if isinstance(data, str):
        return bytes.fromhex(data[2:] if data.startswith("0x") else data)
    return bytes(data)


def _hash32(value: Union[bytes, str]) -> bytes:
    raw = _bytes(value)
    if len(raw) != 32:
        raise ScaleError(f"a block hash is 32 bytes, got {len(raw)}")
    return raw
