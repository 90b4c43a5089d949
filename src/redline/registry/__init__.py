"""The registry: a database of models and what was proven about them, content-addressed
artifacts, and a hash-chained audit log. ``open_store(url)`` is the entry point."""

from redline.registry._artifacts import Artifact, ArtifactStore, StoreCheck
from redline.registry._chain import (
    CHAIN_VERSION,
    GENESIS,
    AuditEvent,
    ChainCheck,
    next_event,
    verify_chain,
)
from redline.registry._store import DEFAULT_URL, SCHEMA_HEAD, Store, open_store
from redline.registry._versions import (
    VersionInfo,
    get_version,
    list_versions,
    parse_ref,
    register,
    set_alias,
)

__all__ = [
    "CHAIN_VERSION",
    "DEFAULT_URL",
    "GENESIS",
    "SCHEMA_HEAD",
    "Artifact",
    "ArtifactStore",
    "AuditEvent",
    "ChainCheck",
    "Store",
    "StoreCheck",
    "VersionInfo",
    "get_version",
    "list_versions",
    "next_event",
    "open_store",
    "parse_ref",
    "register",
    "set_alias",
    "verify_chain",
]
