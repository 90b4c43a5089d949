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
from redline.registry._incidents import (
    SEVERITIES,
    STATES,
    IncidentEvent,
    IncidentInfo,
    add_note,
    get_incident,
    list_incidents,
    open_incident,
    transition,
)
from redline.registry._lifecycle import PRODUCTION, Gate, Move, promote, rollback, set_alias
from redline.registry._scans import ScanRecord, latest_scan, list_scans, record_scan
from redline.registry._store import DEFAULT_URL, SCHEMA_HEAD, Store, open_store
from redline.registry._versions import (
    VersionInfo,
    get_version,
    lineage,
    list_versions,
    load_artifact,
    parse_ref,
    register,
)

__all__ = [
    "CHAIN_VERSION",
    "DEFAULT_URL",
    "GENESIS",
    "PRODUCTION",
    "SCHEMA_HEAD",
    "SEVERITIES",
    "STATES",
    "Artifact",
    "ArtifactStore",
    "AuditEvent",
    "ChainCheck",
    "Gate",
    "IncidentEvent",
    "IncidentInfo",
    "Move",
    "ScanRecord",
    "Store",
    "StoreCheck",
    "VersionInfo",
    "add_note",
    "get_incident",
    "get_version",
    "latest_scan",
    "lineage",
    "list_incidents",
    "list_scans",
    "list_versions",
    "load_artifact",
    "next_event",
    "open_incident",
    "open_store",
    "parse_ref",
    "promote",
    "record_scan",
    "register",
    "rollback",
    "set_alias",
    "transition",
    "verify_chain",
]
