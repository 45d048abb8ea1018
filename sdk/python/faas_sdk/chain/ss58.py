"""SS58 addresses (Substrate's base58 account format with a network prefix and a blake2b checksum)."""

from __future__ import annotations

import hashlib
from typing import Tuple

__all__ = ["b58encode", "b58decode", "ss58_encode", "ss58_decode"]

_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_INDEX = {c: i for i, c in enumerate(_ALPHABET)}
_PREFIX = b"SS58PRE"


def b58encode(data: bytes) -> str:
    n = int.from_bytes(data, "big")
    out = []
    while n:
        n, rem = divmod(n, 58)
        out.append(_ALPHABET[rem])
    zeros = len(data) - len(data.lstrip(b"\0"))
    return "1" * zeros + "".join(reversed(out))


def b58decode(text: str) -> bytes:
    n = 0
    for c in text:
        if c not in _INDEX:
            raise ValueError(f"invalid base58 character {c!r}")
        n = n * 58 + _INDEX[c]
    body = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
    zeros = len(text) - len(text.lstrip("1"))
    return b"\0" * zeros + body


def _checksum(payload: bytes) -> bytes:
    return hashlib.blake2b(_PREFIX + payload, digest_size=64).digest()


def _prefix_bytes(fmt: int) -> bytes:
    if not 0 <= fmt < 16384 or fmt in (46, 47):
        raise ValueError(f"invalid SS58 format {fmt}")
    if fmt < 64:
        return bytes([fmt])
    # Two bytes: the 14-bit format spread as Substrate does.
    return bytes([((fmt & 0xFC) >> 2) | 0x40, (fmt >> 8) | ((fmt & 0x03) << 6)])


def ss58_encode(public_key: bytes, ss58_format: int = 42) -> str:
    if len(public_key) not in (1, 2, 4, 8, 32, 33):
        raise ValueError(f"cannot make an SS58 address of {len(public_key)} bytes")
    payload = _prefix_bytes(ss58_format) + bytes(public_key)
    checksum_len = 2 if len(public_key) in (32, 33) else 1
    return b58encode(payload + _checksum(payload)[:checksum_len])


def ss58_decode(address: str) -> Tuple[bytes, int]:
    """(public key, SS58 format) of an address; raises ValueError when it is not one."""
    raw = b58decode(address)
    if len(raw) < 3:
        raise ValueError(f"not an SS58 address: {address!r}")
    if raw[0] & 0x40:
        prefix_len = 2
        fmt = ((raw[0] & 0x3F) << 2) | (raw[1] >> 6) | ((raw[1] & 0x3F) << 8)
    else:
        prefix_len = 1
        fmt = raw[0]
    body_len = len(raw) - prefix_len
    for key_len, checksum_len in ((32, 2), (33, 2), (1, 1), (2, 1), (4, 1), (8, 1)):
        if body_len == key_len + checksum_len:
            break
    else:
        raise ValueError(f"not an SS58 address (bad length): {address!r}")
    payload = raw[: prefix_len + key_len]
    if _checksum(payload)[:checksum_len] != raw[prefix_len + key_len :]:
        raise ValueError(f"not an SS58 address (bad checksum): {address!r}")
    return payload[prefix_len:], fmt
