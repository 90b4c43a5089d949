"""The audit log's hash chain: each event's hash covers its content and the previous
event's hash, so editing, removing, inserting or reordering any event is detectable by
walking the chain from the first event.

The hash is SHA-256 over a canonical JSON encoding (sorted keys, no whitespace, UTF-8)
of ``[version, seq, prev_hash, at, actor, action, subject, details]``. Storage is the
store's business; this module only computes and checks.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from redline.errors import InputError

__all__ = ["CHAIN_VERSION", "GENESIS", "AuditEvent", "ChainCheck", "next_event", "verify_chain"]

CHAIN_VERSION = 1
GENESIS = "0" * 64
"""The ``prev_hash`` of the first event."""


def _canonical(value: Any) -> Any:
    """JSON-safe copy with only exact types: a float that is not finite, or any object
    JSON cannot represent the same way twice, is refused rather than coerced."""
    if isinstance(value, bool | int | str) or value is None:
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InputError(f"audit details must be finite numbers, got {value!r}")
        return value
    if isinstance(value, Mapping):
        if not all(isinstance(k, str) for k in value):
            raise InputError("audit details must have string keys")
        return {k: _canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    raise InputError(f"audit details cannot hold a {type(value).__name__}")


def _digest(fields: list[Any]) -> str:
    text = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class AuditEvent:
    """One audit record: who did what to which subject, when, and the chain hashes."""

    seq: int
    at: str
    actor: str
    action: str
    subject: str
    details: dict[str, Any] = field(default_factory=dict)
    prev_hash: str = GENESIS
    hash: str = ""

    def expected_hash(self) -> str:
        """The hash this event must carry given its content and ``prev_hash``."""
        fields = [CHAIN_VERSION, self.seq, self.prev_hash, self.at, self.actor]
        fields += [self.action, self.subject, _canonical(self.details)]
        return _digest(fields)


def next_event(
    previous: AuditEvent | None,
    *,
    at: str,
    actor: str,
    action: str,
    subject: str,
    details: Mapping[str, Any] | None = None,
) -> AuditEvent:
    """The event that follows ``previous`` (None: the first one), hash filled in."""
    for name, value in (("actor", actor), ("action", action), ("subject", subject)):
        if not value or not isinstance(value, str):
            raise InputError(f"an audit event needs a non-empty {name}")
    seq = 1 if previous is None else previous.seq + 1
    prev_hash = GENESIS if previous is None else previous.hash
    body = _canonical(dict(details or {}))
    event = AuditEvent(seq, at, actor, action, subject, body, prev_hash)
    return AuditEvent(seq, at, actor, action, subject, body, prev_hash, event.expected_hash())


@dataclass(frozen=True)
class ChainCheck:
    """Result of walking the chain: ``bad_seq`` is the first event that fails (None when
    the whole chain verifies), ``reason`` says how."""

    events: int
    bad_seq: int | None = None
    reason: str = ""

    @property
    def ok(self) -> bool:
        """True when every event verified."""
        return self.bad_seq is None


def verify_chain(events: Iterable[AuditEvent]) -> ChainCheck:
    """Walk ``events`` in order: sequence numbers 1, 2, 3..., each ``prev_hash`` equal to
    the previous event's hash, each hash equal to the hash of the event's content."""
    prev_hash, count = GENESIS, 0
    for count, event in enumerate(events, start=1):
        if event.seq != count:
            return ChainCheck(count, event.seq, f"sequence gap: expected {count}")
        if event.prev_hash != prev_hash:
            return ChainCheck(count, event.seq, "prev_hash does not match the previous event")
        try:
            expected = event.expected_hash()
        except InputError as exc:
            return ChainCheck(count, event.seq, f"unreadable details ({exc})")
        if event.hash != expected:
            return ChainCheck(count, event.seq, "content does not match its hash")
        prev_hash = event.hash
    return ChainCheck(count)
