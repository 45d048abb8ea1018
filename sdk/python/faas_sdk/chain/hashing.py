"""Substrate's hashers: blake2b (128/256), xxHash64-based twox (64/128/256), and the storage
map hashers built on them."""

from __future__ import annotations

import hashlib
from typing import Callable, Dict

import xxhash

__all__ = ["blake2_128", "blake2_256", "blake2_512", "twox64", "twox128", "twox256", "STORAGE_HASHERS", "hash_key"]


def blake2_128(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=16).digest()


def blake2_256(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=32).digest()


def blake2_512(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=64).digest()


def _twox(data: bytes, words: int) -> bytes:
    # xxHash64 with seeds 0, 1, ... each output little-endian, concatenated.
    return b"".join(xxhash.xxh64_intdigest(data, seed=i).to_bytes(8, "little") for i in range(words))


def twox64(data: bytes) -> bytes:
    return _twox(data, 1)


def twox128(data: bytes) -> bytes:
    return _twox(data, 2)


def twox256(data: bytes) -> bytes:
    return _twox(data, 4)


# Storage map hashers by their metadata name (the StorageHasher enum, in its variant order).
STORAGE_HASHERS: Dict[str, Callable[[bytes], bytes]] = {
    "Blake2_128": blake2_128,
    "Blake2_256": blake2_256,
    "Blake2_128Concat": lambda d: blake2_128(d) + d,
    "Twox128": twox128,
    "Twox256": twox256,
    "Twox64Concat": lambda d: twox64(d) + d,
    "Identity": lambda d: d,
}

# The part of a hashed key that precedes the key's own bytes, for the hashers that keep them.
CONCAT_PREFIX_LEN = {"Blake2_128Concat": 16, "Twox64Concat": 8, "Identity": 0}


def hash_key(hasher: str, encoded: bytes) -> bytes:
    try:
        return STORAGE_HASHERS[hasher](encoded)
    except KeyError:
        raise ValueError(f"unknown storage hasher {hasher}") from None
