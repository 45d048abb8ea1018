"""ECDSA on secp256k1 as the operators use it: 65-byte recoverable signatures ``r‖s‖v`` over a
32-byte digest (blake2b-256 of the message, as ``@polkadot/keyring``'s ecdsa pairs sign).

Verification checks the signature with OpenSSL (Debian's python3-cryptography) against the
expected public key *and* that the recovery id recovers that same key, as polkadot's
``signatureVerify`` (which recovers and compares) does. Signing is deterministic (RFC 6979,
low-s), so it gives the same bytes as ``@polkadot/keyring``; it exists for tests and tools
that act as an operator — a client only verifies.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Optional, Tuple

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, utils

from .hashing import blake2_256

__all__ = ["public_key", "sign_digest", "sign", "recover", "verify_digest", "verify", "compress", "decompress"]

P = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC2F
N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
G = (
    0x79BE667EF9DCBBAC55A06295CE870B07029BFCDB2DCE28D959F2815B16F81798,
    0x483ADA7726A3C4655DA4FBFC0E1108A8FD17B448A68554199C47D08FFB10D4B8,
)

Point = Optional[Tuple[int, int]]


def _add(a: Point, b: Point) -> Point:
    if a is None:
        return b
    if b is None:
        return a
    if a[0] == b[0]:
        if (a[1] + b[1]) % P == 0:
            return None
        lam = 3 * a[0] * a[0] * pow(2 * a[1], -1, P) % P
    else:
        lam = (b[1] - a[1]) * pow(b[0] - a[0], -1, P) % P
    x = (lam * lam - a[0] - b[0]) % P
    return (x, (lam * (a[0] - x) - a[1]) % P)


def _mul(k: int, point: Point) -> Point:
    result: Point = None
    addend = point
    while k:
        if k & 1:
            result = _add(result, addend)
        addend = _add(addend, addend)
        k >>= 1
    return result


def _lift_x(x: int, odd: bool) -> Point:
    if x >= P:
        return None
    y2 = (pow(x, 3, P) + 7) % P
    y = pow(y2, (P + 1) // 4, P)
    if y * y % P != y2:
        return None
    return (x, y if (y & 1) == odd else P - y)


def _encode(point: Point) -> bytes:
    assert point is not None
    return b"\x04" + point[0].to_bytes(32, "big") + point[1].to_bytes(32, "big")


def decompress(key: bytes) -> bytes:
    """The 65-byte uncompressed SEC1 form of a 33- or 65-byte public key."""
    key = bytes(key)
    if len(key) == 65 and key[0] == 4:
        return key
    if len(key) == 33 and key[0] in (2, 3):
        point = _lift_x(int.from_bytes(key[1:], "big"), key[0] == 3)
        if point is None:
            raise ValueError("not a point on secp256k1")
        return _encode(point)
    raise ValueError(f"not a SEC1 public key ({len(key)} bytes)")


def compress(key: bytes) -> bytes:
    full = decompress(key)
    return bytes([2 + (full[64] & 1)]) + full[1:33]


def public_key(secret: bytes) -> bytes:
    """The 65-byte uncompressed public key of a 32-byte secret."""
    d = int.from_bytes(secret, "big")
    if not 0 < d < N:
        raise ValueError("not a secp256k1 secret key")
    return _encode(_mul(d, G))


def _rfc6979_k(secret: bytes, digest: bytes):  # type: ignore[no-untyped-def]
    # RFC 6979 section 3.2 with HMAC-SHA256; the digest is taken modulo n as an octet string.
    h1 = (int.from_bytes(digest, "big") % N).to_bytes(32, "big")
    v = b"\x01" * 32
    k = b"\x00" * 32
    k = hmac.new(k, v + b"\x00" + secret + h1, hashlib.sha256).digest()
    v = hmac.new(k, v, hashlib.sha256).digest()
    k = hmac.new(k, v + b"\x01" + secret + h1, hashlib.sha256).digest()
    v = hmac.new(k, v, hashlib.sha256).digest()
    while True:
        v = hmac.new(k, v, hashlib.sha256).digest()
        candidate = int.from_bytes(v, "big")
        if 0 < candidate < N:
            yield candidate
        k = hmac.new(k, v + b"\x00", hashlib.sha256).digest()
        v = hmac.new(k, v, hashlib.sha256).digest()


def sign_digest(secret: bytes, digest: bytes) -> bytes:
    """65 bytes r‖s‖v (v = recovery id 0/1, s low) over a 32-byte digest."""
    if len(digest) != 32:
        raise ValueError("the digest is 32 bytes")
    d = int.from_bytes(secret, "big")
    if not 0 < d < N:
        raise ValueError("not a secp256k1 secret key")
    z = int.from_bytes(digest, "big") % N
    for k in _rfc6979_k(bytes(secret), digest):
        point = _mul(k, G)
        assert point is not None
        r = point[0] % N
        if r == 0:
            continue
        s = pow(k, -1, N) * (z + r * d) % N
        if s == 0:
            continue
        v = (point[1] & 1) | (2 if point[0] >= N else 0)
        if s > N // 2:
            s = N - s
            v ^= 1
        return r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([v])
    raise AssertionError("unreachable")


def sign(secret: bytes, message: bytes) -> bytes:
    """What a polkadot ecdsa pair's ``sign(message)`` gives: blake2b-256, then sign_digest."""
    return sign_digest(secret, blake2_256(message))


def _split(signature: bytes) -> Tuple[int, int, int]:
    if len(signature) != 65:
        raise ValueError(f"a recoverable signature is 65 bytes, got {len(signature)}")
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:64], "big")
    v = signature[64]
    if v >= 27:
        v -= 27
    if not (0 < r < N and 0 < s < N and 0 <= v <= 3):
        raise ValueError("malformed signature")
    return r, s, v


def recover(digest: bytes, signature: bytes) -> bytes:
    """The 65-byte public key that made ``signature`` over ``digest`` (ValueError if none)."""
    r, s, v = _split(signature)
    point = _lift_x(r + (N if v & 2 else 0), bool(v & 1))
    if point is None:
        raise ValueError("the signature recovers no key")
    z = int.from_bytes(digest, "big") % N
    r_inv = pow(r, -1, N)
    q = _add(_mul(s * r_inv % N, point), _mul((-z * r_inv) % N, G))
    if q is None:
        raise ValueError("the signature recovers no key")
    return _encode(q)


def verify_digest(digest: bytes, signature: bytes, key: bytes) -> bool:
    """Whether ``signature`` (65 bytes r‖s‖v) over ``digest`` is by ``key`` (33 or 65 bytes SEC1)."""
    try:
        full = decompress(key)
        r, s, _v = _split(bytes(signature))
        if recover(digest, signature) != full:
            return False
        pub = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256K1(), full)
        # Prehashed only checks the digest's length; the digest here is blake2b-256.
        pub.verify(utils.encode_dss_signature(r, s), bytes(digest), ec.ECDSA(utils.Prehashed(hashes.SHA256())))
        return True
    except (ValueError, InvalidSignature):
        return False


def verify(message: bytes, signature: bytes, key: bytes) -> bool:
    """Whether ``signature`` is ``key``'s over blake2b-256(message) (a polkadot ecdsa signature)."""
    return verify_digest(blake2_256(message), signature, key)
