"""Tangle on-chain side of the SDK: ``TangleFaaSClient`` and what it is made of.

Standard library plus Debian's python3-websockets, python3-nacl (ed25519), python3-xxhash
(twox hashers) and python3-cryptography (secp256k1) — no PyPI. Everything is encoded from the
chain's own metadata (V14/V15), byte for byte as ``@polkadot/types`` does:

* :mod:`.scale`, :mod:`.metadata` — SCALE over the runtime's portable type registry;
* :mod:`.runtime` — calls by name, signed v4 extrinsics with the runtime's signed extensions,
  storage keys with their hashers, storage values, System.Events;
* :mod:`.keys` — ed25519 accounts from mnemonics and secret URIs as ``@polkadot/keyring``
  derives them (and ecdsa keys for operators);
* :mod:`.rpc` — JSON-RPC over WebSocket and a chain client;
* :mod:`.statement` — the FaaS job contract: output hash, signed statement, result Fields;
* :mod:`.client` — :class:`TangleFaaSClient`.
"""

from .client import JOB_EXECUTE, JobUpdate, OperatorResult, ServiceRecord, TangleFaaSClient, TangleJobResult, default_quorum
from .keys import DEV_PHRASE, EcdsaKeypair, Keypair
from .metadata import Metadata, decode_metadata
from .rpc import ChainClient, Receipt, RpcClient, RpcError, TransactionRejected
from .runtime import DispatchFailure, Era, Event, Runtime
from .scale import AccountId, Raw, Registry, ScaleError
from .statement import STATEMENT_DOMAIN, Statement, encode_statement, output_hash, sign_statement, verify_statement

__all__ = [
    "TangleFaaSClient",
    "TangleJobResult",
    "OperatorResult",
    "JobUpdate",
    "ServiceRecord",
    "default_quorum",
    "JOB_EXECUTE",
    "Keypair",
    "EcdsaKeypair",
    "DEV_PHRASE",
    "Metadata",
    "decode_metadata",
    "Runtime",
    "Era",
    "Event",
    "DispatchFailure",
    "ChainClient",
    "RpcClient",
    "RpcError",
    "Receipt",
    "TransactionRejected",
    "Registry",
    "AccountId",
    "Raw",
    "ScaleError",
    "STATEMENT_DOMAIN",
    "Statement",
    "encode_statement",
    "output_hash",
    "sign_statement",
    "verify_statement",
]
