"""Registry foundations: content-addressed artifacts and the audit log's hash chain.

The database-backed store (models, versions, aliases, scans, incidents) builds on these.
"""

from redline.registry._artifacts import Artifact, ArtifactStore, StoreCheck
from redline.registry._chain import (
    CHAIN_VERSION,
    GENESIS,
    AuditEvent,
    ChainCheck,
    next_event,
    verify_chain,
)

__all__ = [
    "CHAIN_VERSION",
    "GENESIS",
    "Artifact",
    "ArtifactStore",
    "AuditEvent",
    "ChainCheck",
    "StoreCheck",
    "next_event",
    "verify_chain",
]
