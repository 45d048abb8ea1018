"""SCALE, driven by a runtime's own portable type registry (scale-info, metadata V14/V15).

Values on the Python side:

* integers are ``int``; ``bool``, ``str`` (``char`` too) as themselves;
* ``Vec<u8>`` and ``[u8; N]`` are ``bytes`` (a ``str`` is taken as its UTF-8 for ``Vec<u8>``,
  a ``"0x…"`` hex string of the right length for ``[u8; N]``);
* a composite with named fields is a ``dict`` (metadata names; camelCase accepted when
  encoding); one unnamed field is that field's value itself (``BoundedVec<u8>`` is ``bytes``);
  several unnamed fields are a ``tuple``; no field is ``None``;
* an enum (variant) is ``"Name"`` for a variant without fields, else ``{"Name": value}`` with
  the value shaped like a composite's; ``Option<T>`` is ``None`` or the value;
* ``AccountId32`` decodes to :class:`AccountId` (``bytes``; ``str()`` is its SS58 address) and
  encodes from one, 32 bytes, ``0x`` hex or an SS58 address; ``MultiAddress`` also takes a bare
  account (``Id``);
* sequences, arrays and tuples are lists or tuples; a bit sequence is a list of ``bool``;
* :class:`Raw` wraps bytes that are already encoded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from .ss58 import ss58_decode, ss58_encode

__all__ = [
    "ScaleError",
    "Reader",
    "Raw",
    "AccountId",
    "encode_compact",
    "decode_compact",
    "TypeField",
    "TypeVariant",
    "PortableType",
    "Registry",
    "camel_case",
]


class ScaleError(ValueError):
    """A value does not fit its type, or bytes do not decode as it."""


class Raw(bytes):
    """Bytes that are already SCALE-encoded: encoded as they are, whatever the type."""


class AccountId(bytes):
    """A 32-byte account id; ``str()`` gives its SS58 address (``ss58_format`` 42 unless set)."""

    ss58_format = 42

    def __new__(cls, value: Union[bytes, str], ss58_format: Optional[int] = None) -> "AccountId":
        raw = account_bytes(value)
        obj = super().__new__(cls, raw)
        if ss58_format is not None:
            obj.ss58_format = ss58_format
        return obj

    @property
    def ss58(self) -> str:
        return ss58_encode(bytes(self), self.ss58_format)

    def __str__(self) -> str:
        return self.ss58

    def __repr__(self) -> str:
        return f"AccountId({self.ss58})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            try:
                return bytes(self) == account_bytes(other)
            except ScaleError:
                return False
        return bytes.__eq__(self, other)

    def __hash__(self) -> int:
        return bytes.__hash__(self)


def account_bytes(value: Union[bytes, str]) -> bytes:
    """32 account bytes from bytes, ``0x`` hex or an SS58 address."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value)
    elif isinstance(value, str) and value.startswith("0x"):
        try:
            raw = bytes.fromhex(value[2:])
        except ValueError:
            raise ScaleError(f"not hex: {value!r}") from None
    elif isinstance(value, str):
        try:
            raw = ss58_decode(value)[0]
        except ValueError as err:
            raise ScaleError(str(err)) from None
    else:
        raise ScaleError(f"an account is bytes, hex or an SS58 address, not {type(value).__name__}")
    if len(raw) != 32:
        raise ScaleError(f"an account id is 32 bytes, got {len(raw)}")
    return raw


def camel_case(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


# ---------------------------------------------------------------------------------------------
# primitives


class Reader:
    """Reads SCALE from bytes, keeping its position."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data = bytes(data)
        self.pos = pos

    def read(self, n: int) -> bytes:
        end = self.pos + n
        if n < 0 or end > len(self.data):
            raise ScaleError(f"needs {n} bytes at offset {self.pos}, only {len(self.data) - self.pos} left")
        out = self.data[self.pos : end]
        self.pos = end
        return out

    def byte(self) -> int:
        return self.read(1)[0]

    def uint(self, n: int) -> int:
        return int.from_bytes(self.read(n), "little")

    def compact(self) -> int:
        return decode_compact(self)

    def bytes_(self) -> bytes:
        return self.read(self.compact())

    def string(self) -> str:
        raw = self.bytes_()
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ScaleError("a str is not UTF-8") from None

    def option(self) -> bool:
        flag = self.byte()
        if flag > 1:
            raise ScaleError(f"an Option's flag is 0 or 1, got {flag}")
        return flag == 1

    def remaining(self) -> int:
        return len(self.data) - self.pos


def encode_compact(n: int) -> bytes:
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        raise ScaleError(f"a compact is a non-negative int, got {n!r}")
    if n < 1 << 6:
        return bytes([n << 2])
    if n < 1 << 14:
        return ((n << 2) | 1).to_bytes(2, "little")
    if n < 1 << 30:
        return ((n << 2) | 2).to_bytes(4, "little")
    size = max(4, (n.bit_length() + 7) // 8)
    if size > 67:
        raise ScaleError("a compact holds at most 536 bits")
    return bytes([((size - 4) << 2) | 3]) + n.to_bytes(size, "little")


def decode_compact(r: Reader) -> int:
    first = r.byte()
    mode = first & 3
    if mode == 0:
        return first >> 2
    if mode == 1:
        return (first | (r.byte() << 8)) >> 2
    if mode == 2:
        return int.from_bytes(bytes([first]) + r.read(3), "little") >> 2
    return r.uint((first >> 2) + 4)


_INT_BITS = {
    "u8": 8, "u16": 16, "u32": 32, "u64": 64, "u128": 128, "u256": 256,
    "i8": 8, "i16": 16, "i32": 32, "i64": 64, "i128": 128, "i256": 256,
}  # fmt: skip


def encode_int(prim: str, value: Any) -> bytes:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ScaleError(f"{prim} needs an int, got {type(value).__name__}")
    bits = _INT_BITS[prim]
    signed = prim.startswith("i")
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    if not lo <= value <= hi:
        raise ScaleError(f"{value} is out of range for {prim}")
    return value.to_bytes(bits // 8, "little", signed=signed)


# ---------------------------------------------------------------------------------------------
# the portable type registry


@dataclass(frozen=True)
class TypeField:
    name: Optional[str]
    type: int
    type_name: Optional[str] = None
    docs: Tuple[str, ...] = ()


@dataclass(frozen=True)
class TypeVariant:
    name: str
    index: int
    fields: Tuple[TypeField, ...]
    docs: Tuple[str, ...] = ()


@dataclass
class PortableType:
    """One entry of the registry: ``kind`` is composite, variant, sequence, array, tuple,
    primitive, compact or bitsequence."""

    id: int
    path: Tuple[str, ...]
    params: Tuple[Tuple[str, Optional[int]], ...]
    kind: str
    fields: Tuple[TypeField, ...] = ()  # composite
    variants: Tuple[TypeVariant, ...] = ()  # variant
    inner: int = -1  # sequence, array, compact: the element type
    length: int = 0  # array
    items: Tuple[int, ...] = ()  # tuple
    primitive: str = ""  # primitive
    bit_store: int = -1  # bitsequence
    bit_order: int = -1
    docs: Tuple[str, ...] = ()
    by_index: Dict[int, TypeVariant] = field(default_factory=dict, repr=False)
    by_name: Dict[str, TypeVariant] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.by_index = {v.index: v for v in self.variants}
        self.by_name = {v.name: v for v in self.variants}

    @property
    def name(self) -> str:
        return "::".join(self.path) if self.path else self.kind

    def variant(self, name: str) -> TypeVariant:
        v = self.by_name.get(name)
        if v is None:  # be lenient about the case: "string" for "String"
            matches = [x for x in self.variants if x.name.lower() == name.lower()]
            if len(matches) == 1:
                v = matches[0]
        if v is None:
            raise ScaleError(f"{self.name} has no variant {name!r} (it has {', '.join(self.by_name)})")
        return v


def _is_bytes_like(value: Any) -> bool:
    return isinstance(value, (bytes, bytearray, memoryview))


class Registry:
    """Encodes and decodes values by type id with the runtime's portable types."""

    def __init__(self, types: Sequence[PortableType], ss58_format: int = 42) -> None:
        self.types: Dict[int, PortableType] = {t.id: t for t in types}
        self.ss58_format = ss58_format

    def __getitem__(self, type_id: int) -> PortableType:
        try:
            return self.types[type_id]
        except KeyError:
            raise ScaleError(f"type {type_id} is not in the registry") from None

    def find(self, *path: str) -> PortableType:
        """The type whose path ends with ``path`` (e.g. find("RuntimeCall"))."""
        hits = [t for t in self.types.values() if t.path[-len(path) :] == tuple(path)]
        if not hits:
            raise ScaleError(f"no type {'::'.join(path)} in the registry")
        return hits[0]

    # -- what a type is -------------------------------------------------------------------------

    def is_u8(self, type_id: int) -> bool:
        t = self[type_id]
        return t.kind == "primitive" and t.primitive == "u8"

    def is_account(self, t: PortableType) -> bool:
        return bool(t.path) and t.path[-1] == "AccountId32" and t.kind == "composite"

    def is_option(self, t: PortableType) -> bool:
        return t.kind == "variant" and t.path == ("Option",)

    def is_empty(self, type_id: int) -> bool:
        """Whether the type always encodes to nothing (unit structs, empty tuples)."""
        t = self[type_id]
        if t.kind == "composite":
            return all(self.is_empty(f.type) for f in t.fields)
        if t.kind == "tuple":
            return all(self.is_empty(i) for i in t.items)
        if t.kind == "array":
            return t.length == 0 or self.is_empty(t.inner)
        return False

    def unwrap_newtypes(self, type_id: int) -> PortableType:
        """Through composites of one field to what they hold (Compact<Perbill> is a compact u32)."""
        t = self[type_id]
        while t.kind == "composite" and len(t.fields) == 1:
            t = self[t.fields[0].type]
        return t

    def type_label(self, type_id: int) -> str:
        t = self[type_id]
        if t.kind == "primitive":
            return t.primitive
        if t.kind == "sequence":
            return f"Vec<{self.type_label(t.inner)}>"
        if t.kind == "array":
            return f"[{self.type_label(t.inner)}; {t.length}]"
        if t.kind == "compact":
            return f"Compact<{self.type_label(t.inner)}>"
        if t.kind == "tuple":
            return "(" + ", ".join(self.type_label(i) for i in t.items) + ")"
        return t.path[-1] if t.path else t.kind

    # -- encoding -------------------------------------------------------------------------------

    def encode(self, type_id: int, value: Any) -> bytes:
        out = bytearray()
        self._enc(type_id, value, out, "value")
        return bytes(out)

    def _enc(self, type_id: int, value: Any, out: bytearray, where: str) -> None:
        if isinstance(value, Raw):
            out += value
            return
        t = self[type_id]
        try:
            enc = getattr(self, "_enc_" + t.kind)
            enc(t, value, out, where)
        except ScaleError as err:
            msg = str(err)
            if msg.startswith("at "):
                raise
            raise ScaleError(f"at {where} ({self.type_label(type_id)}): {msg}") from None

    def _enc_primitive(self, t: PortableType, value: Any, out: bytearray, where: str) -> None:
        p = t.primitive
        if p == "bool":
            if not isinstance(value, bool):
                raise ScaleError(f"bool needs True or False, got {value!r}")
            out.append(1 if value else 0)
        elif p == "str":
            raw = bytes(value) if _is_bytes_like(value) else value.encode("utf-8") if isinstance(value, str) else None
            if raw is None:
                raise ScaleError(f"str needs a str, got {type(value).__name__}")
            out += encode_compact(len(raw)) + raw
        elif p == "char":
            if not isinstance(value, str) or len(value) != 1:
                raise ScaleError(f"char needs a one-character str, got {value!r}")
            out += ord(value).to_bytes(4, "little")
        else:
            out += encode_int(p, value)

    def _enc_compact(self, t: PortableType, value: Any, out: bytearray, where: str) -> None:
        inner = self.unwrap_newtypes(t.inner)
        if inner.kind == "tuple" and not inner.items:
            return  # Compact<()>
        if isinstance(value, bool) or not isinstance(value, int):
            raise ScaleError(f"a compact needs an int, got {type(value).__name__}")
        bits = _INT_BITS.get(inner.primitive, 0) if inner.kind == "primitive" else 0
        if bits and value >= 1 << bits:
            raise ScaleError(f"{value} is out of range for {inner.primitive}")
        out += encode_compact(value)

    def _enc_sequence(self, t: PortableType, value: Any, out: bytearray, where: str) -> None:
        if self.is_u8(t.inner):
            if isinstance(value, str):
                value = value.encode("utf-8")
            if _is_bytes_like(value):
                raw = bytes(value)
                out += encode_compact(len(raw)) + raw
                return
        if isinstance(value, (str, bytes, Mapping)) or not hasattr(value, "__iter__"):
            raise ScaleError(f"a sequence needs a list, got {type(value).__name__}")
        items = list(value)
        out += encode_compact(len(items))
        for i, item in enumerate(items):
            self._enc(t.inner, item, out, f"{where}[{i}]")

    def _enc_array(self, t: PortableType, value: Any, out: bytearray, where: str) -> None:
        if self.is_u8(t.inner) and (isinstance(value, str) or _is_bytes_like(value)):
            if isinstance(value, str):
                if not value.startswith("0x"):
                    raise ScaleError(f"[u8; {t.length}] takes bytes or 0x hex, got {value!r}")
                try:
                    value = bytes.fromhex(value[2:])
                except ValueError:
                    raise ScaleError(f"not hex: {value!r}") from None
            raw = bytes(value)
            if len(raw) != t.length:
                raise ScaleError(f"needs {t.length} bytes, got {len(raw)}")
            out += raw
            return
        if isinstance(value, (str, Mapping)) or not hasattr(value, "__iter__"):
            raise ScaleError(f"an array needs a list, got {type(value).__name__}")
        items = list(value)
        if len(items) != t.length:
            raise ScaleError(f"needs {t.length} items, got {len(items)}")
        for i, item in enumerate(items):
            self._enc(t.inner, item, out, f"{where}[{i}]")

    def _enc_tuple(self, t: PortableType, value: Any, out: bytearray, where: str) -> None:
        if not t.items:
            if value not in (None, (), []):
                raise ScaleError(f"() takes None, got {value!r}")
            return
        if len(t.items) == 1 and not isinstance(value, (tuple, list)):
            value = (value,)
        if not isinstance(value, (tuple, list)) or len(value) != len(t.items):
            raise ScaleError(f"a tuple of {len(t.items)} needs a tuple or list of as many")
        for i, (tid, item) in enumerate(zip(t.items, value)):
            self._enc(tid, item, out, f"{where}.{i}")

    def _enc_fields(self, fields: Sequence[TypeField], value: Any, out: bytearray, where: str, what: str) -> None:
        if not fields:
            if value not in (None, (), [], {}):
                raise ScaleError(f"{what} has no fields, got {value!r}")
            return
        if all(f.name for f in fields):
            if not isinstance(value, Mapping):
                if len(fields) == 1:  # a struct of one field may be given its value
                    self._enc(fields[0].type, value, out, f"{where}.{fields[0].name}")
                    return
                raise ScaleError(f"{what} needs a dict with {', '.join(f.name or '' for f in fields)}")
            known = set()
            for f in fields:
                name = f.name or ""
                known.update((name, camel_case(name)))
                if name in value:
                    item = value[name]
                elif camel_case(name) in value:
                    item = value[camel_case(name)]
                else:
                    raise ScaleError(f"{what} needs field {name!r}")
                self._enc(f.type, item, out, f"{where}.{name}")
            extra = [k for k in value if k not in known]
            if extra:
                raise ScaleError(f"{what} has no field {extra[0]!r}")
            return
        if len(fields) == 1:
            self._enc(fields[0].type, value, out, where)
            return
        if not isinstance(value, (tuple, list)) or len(value) != len(fields):
            raise ScaleError(f"{what} needs a tuple of {len(fields)} values")
        for i, (f, item) in enumerate(zip(fields, value)):
            self._enc(f.type, item, out, f"{where}.{i}")

    def _enc_composite(self, t: PortableType, value: Any, out: bytearray, where: str) -> None:
        if self.is_account(t):
            out += account_bytes(value)
            return
        self._enc_fields(t.fields, value, out, where, t.name)

    def _enc_variant(self, t: PortableType, value: Any, out: bytearray, where: str) -> None:
        if self.is_option(t):
            if value is None:
                out.append(0)
            else:
                out.append(1)
                self._enc(t.by_name["Some"].fields[0].type, value, out, where)
            return
        if t.path and t.path[-1] == "MultiAddress" and (_is_bytes_like(value) or (isinstance(value, str) and value not in t.by_name)):
            name, inner = "Id", value  # a bare account
        elif isinstance(value, str):
            name, inner = value, None
        elif isinstance(value, Mapping) and len(value) == 1:
            name, inner = next(iter(value.items()))
        else:
            raise ScaleError(f"{t.name} needs \"Variant\" or {{\"Variant\": value}}, got {value!r}")
        v = t.variant(name)
        out.append(v.index)
        self._enc_fields(v.fields, inner, out, f"{where}.{v.name}", f"{t.name}::{v.name}")

    def _enc_bitsequence(self, t: PortableType, value: Any, out: bytearray, where: str) -> None:
        bits = [bool(b) for b in value]
        store = self[t.bit_store]
        width = _INT_BITS.get(store.primitive, 0) if store.kind == "primitive" else 0
        if width == 0:
            raise ScaleError("unsupported bit store type")
        msb = bool(self[t.bit_order].path) and self[t.bit_order].path[-1] == "Msb0"
        out += encode_compact(len(bits))
        for start in range(0, len(bits), width):
            word = 0
            for i, b in enumerate(bits[start : start + width]):
                if b:
                    word |= 1 << ((width - 1 - i) if msb else i)
            out += word.to_bytes(width // 8, "little")

    # -- decoding -------------------------------------------------------------------------------

    def decode(self, type_id: int, data: Union[bytes, Reader], *, exact: bool = True) -> Any:
        """Decodes ``data`` (bytes: all of it, unless ``exact`` is false; or a Reader: from its position)."""
        r = data if isinstance(data, Reader) else Reader(data)
        value = self._dec(type_id, r)
        if exact and not isinstance(data, Reader) and r.remaining():
            raise ScaleError(f"{r.remaining()} bytes left over after {self.type_label(type_id)}")
        return value

    def _dec(self, type_id: int, r: Reader) -> Any:
        t = self[type_id]
        k = t.kind
        if k == "primitive":
            p = t.primitive
            if p == "bool":
                b = r.byte()
                if b > 1:
                    raise ScaleError(f"a bool is 0 or 1, got {b}")
                return b == 1
            if p == "str":
                return r.string()
            if p == "char":
                return chr(r.uint(4))
            bits = _INT_BITS[p]
            return int.from_bytes(r.read(bits // 8), "little", signed=p.startswith("i"))
        if k == "compact":
            inner = self.unwrap_newtypes(t.inner)
            if inner.kind == "tuple" and not inner.items:
                return None
            return r.compact()
        if k == "sequence":
            n = r.compact()
            if self.is_u8(t.inner):
                return r.read(n)
            if n > r.remaining() and not self.is_empty(t.inner):
                raise ScaleError(f"a sequence of {n} items cannot fit in {r.remaining()} bytes")
            return [self._dec(t.inner, r) for _ in range(n)]
        if k == "array":
            if self.is_u8(t.inner):
                return r.read(t.length)
            return [self._dec(t.inner, r) for _ in range(t.length)]
        if k == "tuple":
            if not t.items:
                return None
            return tuple(self._dec(i, r) for i in t.items)
        if k == "composite":
            if self.is_account(t):
                return AccountId(r.read(32), self.ss58_format)
            return self._dec_fields(t.fields, r)
        if k == "variant":
            idx = r.byte()
            v = t.by_index.get(idx)
            if v is None:
                raise ScaleError(f"{t.name} has no variant with index {idx}")
            if self.is_option(t):
                return None if v.name == "None" else self._dec(v.fields[0].type, r)
            if not v.fields:
                return v.name
            return {v.name: self._dec_fields(v.fields, r)}
        if k == "bitsequence":
            n = r.compact()
            store = self[t.bit_store]
            width = _INT_BITS[store.primitive]
            msb = bool(self[t.bit_order].path) and self[t.bit_order].path[-1] == "Msb0"
            bits: List[bool] = []
            while len(bits) < n:
                word = r.uint(width // 8)
                for i in range(min(width, n - len(bits))):
                    bits.append(bool(word >> ((width - 1 - i) if msb else i) & 1))
            return bits
        raise ScaleError(f"unknown type kind {k}")

    def _dec_fields(self, fields: Sequence[TypeField], r: Reader) -> Any:
        if not fields:
            return None
        if all(f.name for f in fields):
            return {f.name: self._dec(f.type, r) for f in fields}
        if len(fields) == 1:
            return self._dec(fields[0].type, r)
        return tuple(self._dec(f.type, r) for f in fields)
