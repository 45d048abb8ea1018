"""Accounts from secret URIs, derived exactly as ``@polkadot/keyring`` derives them.

* ``Keypair.from_uri("//Alice")``: the dev phrase with the hard junction ``//Alice``;
* ``Keypair.from_uri("<12..24 word mnemonic>//hard//0///password")``;
* ``Keypair.from_uri("0x<32-byte seed hex>//hard")``.

A mnemonic becomes a 32-byte mini secret the way Substrate does it (PBKDF2-HMAC-SHA512 of the
BIP39 *entropy*, salt ``"mnemonic" + password``, 2048 rounds, first 32 bytes). Hard junctions
derive a new seed as ``blake2b-256(compact-prefixed "Ed25519HDKD" ‖ seed ‖ chain code)``
(``"Secp256k1HDKD"`` for ecdsa); soft junctions do not exist for these schemes.

Accounts here are **ed25519** (Substrate ``MultiSignature::Ed25519``): Debian ships no sr25519
library for Python, and Tangle accepts ed25519 signatures from any account. An ed25519 account
is a different account from the sr25519 one of the same URI.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from functools import lru_cache
from typing import List, Optional, Tuple

import nacl.signing

from . import secp256k1
from .hashing import blake2_256
from .scale import encode_compact
from .ss58 import ss58_encode

__all__ = ["DEV_PHRASE", "Keypair", "EcdsaKeypair", "parse_suri", "mnemonic_to_entropy", "mnemonic_to_mini_secret", "seed_from_uri"]

DEV_PHRASE = "bottom drive obey lake curtain smoke basket hold race lonely fit walk"

_WORD = r"[^\W_]+"  # letters and digits (checked again below: \d stands for ASCII digits only)
_SURI = re.compile(rf"^(0x[a-fA-F0-9]+|{_WORD}(?: {_WORD})*)((?://?[^/]+)*)(///(.*))?$", re.DOTALL)
_JUNCTION = re.compile(r"/(/?)([^/]+)")


@lru_cache(maxsize=1)
def _wordlist() -> List[str]:
    # The BIP39 English list from the `mnemonic` package (Debian: python3-mnemonic).
    from mnemonic import Mnemonic

    words = list(Mnemonic("english").wordlist)
    assert len(words) == 2048
    return words


def mnemonic_to_entropy(mnemonic: str) -> bytes:
    """The BIP39 entropy of an English mnemonic; ValueError when a word or the checksum is wrong."""
    words = unicodedata.normalize("NFKD", mnemonic).split(" ")
    if len(words) % 3 != 0:
        raise ValueError("Invalid mnemonic")
    index = {w: i for i, w in enumerate(_wordlist())}
    bits = ""
    for w in words:
        if w not in index:
            raise ValueError("Invalid mnemonic")
        bits += format(index[w], "011b")
    divider = len(bits) // 33 * 32
    ent_bits, checksum_bits = bits[:divider], bits[divider:]
    entropy = int(ent_bits, 2).to_bytes(len(ent_bits) // 8, "big") if ent_bits else b""
    if len(entropy) % 4 or not 16 <= len(entropy) <= 32:
        raise ValueError("Invalid entropy")
    digest_bits = format(int.from_bytes(hashlib.sha256(entropy).digest(), "big"), "0256b")
    if digest_bits[: len(entropy) * 8 // 32] != checksum_bits:
        raise ValueError("Invalid mnemonic checksum")
    return entropy


def mnemonic_to_mini_secret(mnemonic: str, password: str = "") -> bytes:
    entropy = mnemonic_to_entropy(mnemonic)
    return hashlib.pbkdf2_hmac("sha512", entropy, ("mnemonic" + password).encode("utf-8"), 2048)[:32]


def _is_hex(text: str) -> bool:
    return bool(re.fullmatch(r"0x[0-9a-fA-F]*", text)) and len(text) % 2 == 0


def _chain_code(code: str) -> bytes:
    """A junction's 32-byte chain code, as polkadot's DeriveJunction makes it."""
    if re.fullmatch(r"\d+", code):
        n = int(code)
        if n >= 1 << 256:
            raise ValueError(f"junction {code} does not fit 256 bits")
        return n.to_bytes(32, "little")
    raw = bytes.fromhex(code[2:]) if _is_hex(code) else encode_compact(len(code.encode("utf-8"))) + code.encode("utf-8")
    if len(raw) > 32:
        raw = blake2_256(raw)
    return raw.ljust(32, b"\0")


def parse_suri(suri: str) -> Tuple[str, List[Tuple[bool, bytes]], Optional[str]]:
    """(phrase, [(hard, chain code)], password) of a secret URI; ``//x`` alone uses the dev phrase."""
    if suri.startswith("//"):
        suri = DEV_PHRASE + suri
    suri = unicodedata.normalize("NFC", suri)
    m = _SURI.match(suri)
    if not m:
        raise ValueError("Unable to match provided value to a secret URI")
    phrase, path, _, password = m.groups()
    if not phrase.startswith("0x") and not all(c == " " or c.isalpha() or c in "0123456789" for c in phrase):
        raise ValueError("Unable to match provided value to a secret URI")
    junctions = []
    for hard, code in _JUNCTION.findall(path):
        junctions.append((hard == "/", _chain_code(code)))
    return phrase, junctions, password


def seed_from_uri(suri: str, hdkd: bytes = b"Ed25519HDKD") -> bytes:
    """The 32-byte seed a secret URI stands for, after its (hard) junctions."""
    phrase, junctions, password = parse_suri(suri)
    if phrase.startswith("0x") and len(phrase) == 66:
        seed = bytes.fromhex(phrase[2:])
    elif len(phrase.split(" ")) in (12, 15, 18, 21, 24):
        seed = mnemonic_to_mini_secret(phrase, password or "")
    else:
        if len(phrase) > 32:
            raise ValueError("specified phrase is not a valid mnemonic and is invalid as a raw seed at > 32 bytes")
        seed = phrase.ljust(32).encode("utf-8")
    tag = encode_compact(len(hdkd)) + hdkd
    for hard, code in junctions:
        if not hard:
            raise ValueError("A soft key was found in the path and is not supported")
        seed = blake2_256(tag + seed[:32] + code)
    return seed[:32]


class Keypair:
    """An ed25519 account: ``address`` (SS58), ``public_key``, ``sign(message)``."""

    crypto = "ed25519"

    def __init__(self, seed: bytes, ss58_format: int = 42) -> None:
        if len(seed) != 32:
            raise ValueError("an ed25519 seed is 32 bytes")
        self._key = nacl.signing.SigningKey(bytes(seed))
        self.public_key = bytes(self._key.verify_key)
        self.ss58_format = ss58_format

    @classmethod
    def from_uri(cls, suri: str, ss58_format: int = 42) -> "Keypair":
        return cls(seed_from_uri(suri), ss58_format)

    @classmethod
    def from_mnemonic(cls, mnemonic: str, password: str = "", ss58_format: int = 42) -> "Keypair":
        return cls(mnemonic_to_mini_secret(mnemonic, password), ss58_format)

    @property
    def address(self) -> str:
        return ss58_encode(self.public_key, self.ss58_format)

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(bytes(message)).signature

    def verify(self, message: bytes, signature: bytes) -> bool:
        try:
            self._key.verify_key.verify(bytes(message), bytes(signature))
            return True
        except Exception:  # nacl's BadSignatureError or a malformed signature
            return False

    def __repr__(self) -> str:
        return f"Keypair(ed25519, {self.address})"


class EcdsaKeypair:
    """A secp256k1 key as ``@polkadot/keyring``'s ``ecdsa`` pairs derive it (``Secp256k1HDKD``
    junctions); ``public_key`` is the 65-byte uncompressed SEC1 key operators register."""

    crypto = "ecdsa"

    def __init__(self, secret: bytes) -> None:
        self.secret = bytes(secret)
        self.public_key = secp256k1.public_key(self.secret)

    @classmethod
    def from_uri(cls, suri: str) -> "EcdsaKeypair":
        return cls(seed_from_uri(suri, b"Secp256k1HDKD"))

    @property
    def compressed_public_key(self) -> bytes:
        return secp256k1.compress(self.public_key)

    def sign(self, message: bytes) -> bytes:
        """65 bytes r‖s‖v over blake2b-256(message), as polkadot's ecdsa ``pair.sign`` does."""
        return secp256k1.sign(self.secret, message)

    def __repr__(self) -> str:
        return f"EcdsaKeypair(0x{self.compressed_public_key.hex()})"
