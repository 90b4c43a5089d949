"""The audit hash chain: any edit, removal, insertion or reordering is caught."""

from __future__ import annotations

from dataclasses import replace
from itertools import pairwise

import pytest

from redline.errors import InputError
from redline.registry import GENESIS, AuditEvent, next_event, verify_chain


def _chain(n: int) -> list[AuditEvent]:
    events: list[AuditEvent] = []
    for i in range(n):
        events.append(
            next_event(
                events[-1] if events else None,
                at=f"2026-11-23T10:00:{i:02d}+00:00",
                actor="ci",
                action="promote" if i % 2 else "register",
                subject=f"fraud-model@{i}",
                details={"reason": f"step {i}", "policy": {"passed": True, "score": 0.5}},
            )
        )
    return events


def test_a_built_chain_verifies_and_links() -> None:
    events = _chain(6)
    assert events[0].prev_hash == GENESIS and events[0].seq == 1
    assert all(b.prev_hash == a.hash for a, b in pairwise(events))
    assert verify_chain(events).ok and verify_chain(events).events == 6
    assert verify_chain([]).ok


def test_details_key_order_does_not_change_the_hash() -> None:
    a = next_event(None, at="t", actor="x", action="a", subject="s", details={"b": 1, "a": 2})
    b = next_event(None, at="t", actor="x", action="a", subject="s", details={"a": 2, "b": 1})
    assert a.hash == b.hash


@pytest.mark.parametrize(
    ("case", "bad_seq"),
    [("edit details", 3), ("edit actor", 3), ("drop", 3), ("swap", 3), ("insert", 4)],
)
def test_tampering_is_caught_at_the_first_bad_event(case: str, bad_seq: int) -> None:
    events = _chain(6)
    if case == "edit details":
        events[2] = replace(events[2], details={"reason": "nothing to see"})
    elif case == "edit actor":
        events[2] = replace(events[2], actor="admin")
    elif case == "drop":
        del events[2]
    elif case == "swap":
        events[2], events[3] = events[3], events[2]
    else:
        forged = next_event(events[1], at="t", actor="x", action="a", subject="s")
        events.insert(2, forged)  # a valid-looking event: the one after it no longer fits
    found = verify_chain(events)
    assert not found.ok and found.bad_seq is not None
    assert found.events == bad_seq and found.reason


def test_a_rehashed_edit_still_breaks_the_next_link() -> None:
    events = _chain(4)
    edited = replace(events[1], details={"reason": "rewritten"})
    events[1] = replace(edited, hash=edited.expected_hash())
    found = verify_chain(events)
    assert found.bad_seq == 3 and "prev_hash" in found.reason


def test_details_must_be_plain_json() -> None:
    with pytest.raises(InputError, match="finite"):
        next_event(None, at="t", actor="x", action="a", subject="s", details={"v": float("nan")})
    with pytest.raises(InputError, match="set"):
        next_event(None, at="t", actor="x", action="a", subject="s", details={"v": {1, 2}})
    with pytest.raises(InputError, match="actor"):
        next_event(None, at="t", actor="", action="a", subject="s")
