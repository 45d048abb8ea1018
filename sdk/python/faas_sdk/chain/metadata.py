"""Runtime metadata (frame-metadata V14 and V15) as ``state_getMetadata`` returns it: the
portable type registry, pallets (calls, storage entries with their hashers, events, errors,
constants) and the extrinsic format with its signed extensions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple, Union

from .scale import PortableType, Reader, Registry, ScaleError, TypeField, TypeVariant

__all__ = ["Metadata", "Pallet", "StorageEntry", "Constant", "SignedExtension", "decode_metadata"]

MAGIC = b"meta"
_PRIMITIVES = ("bool", "char", "str", "u8", "u16", "u32", "u64", "u128", "u256", "i8", "i16", "i32", "i64", "i128", "i256")
_HASHERS = ("Blake2_128", "Blake2_256", "Blake2_128Concat", "Twox128", "Twox256", "Twox64Concat", "Identity")


@dataclass
class StorageEntry:
    pallet: str
    prefix: str
    name: str
    optional: bool  # modifier Optional (else Default: the default bytes stand for nothing stored)
    value_type: int
    hashers: Tuple[str, ...] = ()
    key_type: Optional[int] = None  # for maps: the key (a tuple of keys when several hashers)
    default: bytes = b""
    docs: Tuple[str, ...] = ()

    @property
    def is_map(self) -> bool:
        return self.key_type is not None


@dataclass
class Constant:
    name: str
    type: int
    value: bytes


@dataclass
class Pallet:
    name: str
    index: int
    call_type: Optional[int]
    event_type: Optional[int]
    error_type: Optional[int]
    storage_prefix: Optional[str]
    storage: Dict[str, StorageEntry] = field(default_factory=dict)
    constants: Dict[str, Constant] = field(default_factory=dict)


@dataclass
class SignedExtension:
    identifier: str
    type: int  # what goes into the extrinsic ("extra")
    additional_signed: int  # what is only signed ("additional")


@dataclass
class Metadata:
    version: int
    registry: Registry
    pallets: List[Pallet]
    extrinsic_version: int
    signed_extensions: List[SignedExtension]
    call_type: int  # RuntimeCall
    address_type: int
    signature_type: int
    event_type: Optional[int]  # RuntimeEvent, when known
    by_name: Dict[str, Pallet] = field(default_factory=dict, repr=False)
    by_index: Dict[int, Pallet] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.by_name = {p.name: p for p in self.pallets}
        self.by_index = {p.index: p for p in self.pallets}

    def pallet(self, name: str) -> Pallet:
        p = self.by_name.get(name)
        if p is None:  # "services" for "Services", "multiAssetDelegation" for "MultiAssetDelegation"
            matches = [x for x in self.pallets if x.name.lower() == name.replace("_", "").lower()]
            if len(matches) == 1:
                p = matches[0]
        if p is None:
            raise ScaleError(f"the runtime has no pallet {name!r}")
        return p

    def storage_entry(self, pallet: str, item: str) -> StorageEntry:
        p = self.pallet(pallet)
        e = p.storage.get(item)
        if e is None:
            wanted = item.replace("_", "").lower()
            matches = [x for x in p.storage.values() if x.name.lower() == wanted]
            if len(matches) == 1:
                e = matches[0]
        if e is None:
            raise ScaleError(f"{p.name} has no storage item {item!r}")
        return e

    def constant(self, pallet: str, name: str) -> object:
        p = self.pallet(pallet)
        c = p.constants.get(name)
        if c is None:
            raise ScaleError(f"{p.name} has no constant {name!r}")
        return self.registry.decode(c.type, c.value)

    def call_variant(self, pallet: str, call: str) -> Tuple[Pallet, TypeVariant]:
        p = self.pallet(pallet)
        if p.call_type is None:
            raise ScaleError(f"{p.name} has no calls")
        t = self.registry[p.call_type]
        v = t.by_name.get(call)
        if v is None:
            wanted = call.replace("_", "").lower()
            matches = [x for x in t.variants if x.name.replace("_", "").lower() == wanted]
            if len(matches) != 1:
                raise ScaleError(f"{p.name} has no call {call!r}")
            v = matches[0]
        return p, v

    def module_error(self, pallet_index: int, error: bytes) -> Tuple[str, str, str]:
        """(pallet, error name, docs) of a DispatchError::Module."""
        p = self.by_index.get(pallet_index)
        if p is None or p.error_type is None:
            return (str(pallet_index), f"error {error.hex()}", "")
        v = self.registry[p.error_type].by_index.get(error[0] if error else 0)
        if v is None:
            return (p.name, f"error {error.hex()}", "")
        return (p.name, v.name, " ".join(d.strip() for d in v.docs))


# ---------------------------------------------------------------------------------------------


def _strings(r: Reader) -> Tuple[str, ...]:
    return tuple(r.string() for _ in range(r.compact()))


def _opt(r: Reader, read):  # type: ignore[no-untyped-def]
    return read(r) if r.option() else None


def _fields(r: Reader) -> Tuple[TypeField, ...]:
    out = []
    for _ in range(r.compact()):
        name = _opt(r, Reader.string)
        ty = r.compact()
        type_name = _opt(r, Reader.string)
        out.append(TypeField(name, ty, type_name, _strings(r)))
    return tuple(out)


def _portable_type(r: Reader) -> PortableType:
    tid = r.compact()
    path = _strings(r)
    params = tuple((r.string(), _opt(r, Reader.compact)) for _ in range(r.compact()))
    kind = r.byte()
    kw: dict = {}
    if kind == 0:
        kw = {"kind": "composite", "fields": _fields(r)}
    elif kind == 1:
        variants = []
        for _ in range(r.compact()):
            name = r.string()
            fields = _fields(r)
            index = r.byte()
            variants.append(TypeVariant(name, index, fields, _strings(r)))
        kw = {"kind": "variant", "variants": tuple(variants)}
    elif kind == 2:
        kw = {"kind": "sequence", "inner": r.compact()}
    elif kind == 3:
        length = r.uint(4)
        kw = {"kind": "array", "length": length, "inner": r.compact()}
    elif kind == 4:
        kw = {"kind": "tuple", "items": tuple(r.compact() for _ in range(r.compact()))}
    elif kind == 5:
        p = r.byte()
        if p >= len(_PRIMITIVES):
            raise ScaleError(f"unknown primitive {p}")
        kw = {"kind": "primitive", "primitive": _PRIMITIVES[p]}
    elif kind == 6:
        kw = {"kind": "compact", "inner": r.compact()}
    elif kind == 7:
        kw = {"kind": "bitsequence", "bit_store": r.compact(), "bit_order": r.compact()}
    else:
        raise ScaleError(f"unknown TypeDef variant {kind}")
    docs = _strings(r)
    return PortableType(id=tid, path=path, params=params, docs=docs, **kw)


def _storage_entry(r: Reader, pallet: str, prefix: str) -> StorageEntry:
    name = r.string()
    modifier = r.byte()
    kind = r.byte()
    if kind == 0:
        value, hashers, key = r.compact(), (), None
    elif kind == 1:
        hashers = tuple(_HASHERS[r.byte()] for _ in range(r.compact()))
        key = r.compact()
        value = r.compact()
    else:
        raise ScaleError(f"unknown StorageEntryType {kind}")
    default = r.bytes_()
    docs = _strings(r)
    return StorageEntry(pallet, prefix, name, modifier == 0, value, hashers, key, default, docs)


def _pallet(r: Reader, version: int) -> Pallet:
    name = r.string()
    prefix = None
    entries: Dict[str, StorageEntry] = {}
    if r.option():
        prefix = r.string()
        for _ in range(r.compact()):
            e = _storage_entry(r, name, prefix)
            entries[e.name] = e
    call_type = _opt(r, Reader.compact)
    event_type = _opt(r, Reader.compact)
    constants = {}
    for _ in range(r.compact()):
        c = Constant(r.string(), r.compact(), r.bytes_())
        _strings(r)
        constants[c.name] = c
    error_type = _opt(r, Reader.compact)
    index = r.byte()
    if version >= 15:
        _strings(r)  # docs
    return Pallet(name, index, call_type, event_type, error_type, prefix, entries, constants)


def _signed_extensions(r: Reader) -> List[SignedExtension]:
    return [SignedExtension(r.string(), r.compact(), r.compact()) for _ in range(r.compact())]


def decode_metadata(data: Union[bytes, str], ss58_format: Optional[int] = None) -> Metadata:
    """Decodes ``state_getMetadata``'s answer (hex or bytes; RuntimeMetadataPrefixed).

    The SS58 format of decoded accounts is the runtime's System.SS58Prefix unless given.
    """
    if isinstance(data, str):
        data = bytes.fromhex(data[2:] if data.startswith("0x") else data)
    r = Reader(data)
    if r.read(4) != MAGIC:
        raise ScaleError("not runtime metadata (no 'meta' magic)")
    version = r.byte()
    if version not in (14, 15):
        raise ScaleError(f"metadata V{version} is not supported (V14 and V15 are)")
    types = [_portable_type(r) for _ in range(r.compact())]
    registry = Registry(types)
    pallets = [_pallet(r, version) for _ in range(r.compact())]
    if version == 14:
        ext_type = r.compact()
        ext_version = r.byte()
        extensions = _signed_extensions(r)
        _runtime_type = r.compact()
        # UncheckedExtrinsic<Address, Call, Signature, Extra>: the parts are its type parameters.
        params = {n: t for n, t in registry[ext_type].params}
        address, call, signature = params.get("Address"), params.get("Call"), params.get("Signature")
        if address is None or call is None or signature is None:
            raise ScaleError("the extrinsic type does not name its Address, Call and Signature")
        event: Optional[int] = None
        try:
            event = registry.find("RuntimeEvent").id
        except ScaleError:
            pass
    else:
        ext_version = r.byte()
        address, call, signature, _extra = r.compact(), r.compact(), r.compact(), r.compact()
        extensions = _signed_extensions(r)
        _runtime_type = r.compact()
        # Runtime APIs, outer enums and custom values: only the event enum is needed here.
        for _ in range(r.compact()):
            r.string()
            for _ in range(r.compact()):
                r.string()
                for _ in range(r.compact()):
                    r.string()
                    r.compact()
                r.compact()
                _strings(r)
            _strings(r)
        _call_enum, event, _error_enum = r.compact(), r.compact(), r.compact()
    meta = Metadata(version, registry, pallets, ext_version, extensions, call, address, signature, event)
    if ss58_format is None:
        try:
            ss58_format = int(meta.constant("System", "SS58Prefix"))  # type: ignore[call-overload]
        except ScaleError:
            ss58_format = 42
    registry.ss58_format = ss58_format
    return meta
