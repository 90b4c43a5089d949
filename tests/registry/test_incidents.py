"""Incidents: the state machine, the timeline, links, and the audit trail."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.registry._helpers import versions

from redline.errors import InputError
from redline.evaluation import ScanResult
from redline.registry import (
    Store,
    add_note,
    get_incident,
    list_incidents,
    open_incident,
    promote,
    transition,
)


@pytest.fixture
def fraud(store: Store, tmp_path: Path, digits_scan: ScanResult) -> Store:
    versions(store, tmp_path, digits_scan, "fraud", [True, True])
    promote(store, "fraud@2", actor="ana")
    return store


def test_an_incident_walks_the_state_machine(fraud: Store) -> None:
    found = open_incident(fraud, "fraud", severity="high", title="drift on income", actor="ana")
    assert found.state == "open" and found.timeline[0].links["versions"] == ["fraud@2"]
    transition(fraud, found.id, "acknowledge", actor="bob", note="looking")
    add_note(fraud, found.id, "income shifted in Q3", actor="bob", versions=["fraud@1"])
    transition(fraud, found.id, "mitigate", actor="bob", note="rolled back")
    done = transition(fraud, found.id, "resolve", actor="ana", note="retrained")
    assert done.state == "resolved" and not done.is_open
    assert [(e.action, e.state) for e in done.timeline] == [
        ("open", "open"),
        ("acknowledge", "acknowledged"),
        ("note", "acknowledged"),
        ("mitigate", "mitigated"),
        ("resolve", "resolved"),
    ]
    assert done.timeline[2].links == {"versions": ["fraud@1"], "scans": []}
    audited = [e for e in fraud.events() if e.action.startswith("incident.")]
    assert [e.action for e in audited] == [
        "incident.open",
        "incident.acknowledge",
        "incident.note",
        "incident.mitigate",
        "incident.resolve",
    ]
    assert {e.subject for e in audited} == {f"incident/{found.id}"}
    assert fraud.verify_audit().ok


@pytest.mark.parametrize(
    ("moves", "illegal"),
    [
        ([], "mitigate"),
        ([], "resolve"),
        ([], "reopen"),
        (["acknowledge"], "acknowledge"),
        (["acknowledge", "mitigate"], "mitigate"),
        (["acknowledge", "resolve"], "resolve"),
        (["acknowledge"], "close"),
    ],
)
def test_illegal_transitions_change_nothing(fraud: Store, moves: list[str], illegal: str) -> None:
    found = open_incident(fraud, "fraud@1", severity="low", title="t", actor="ana")
    for move in moves:
        transition(fraud, found.id, move, actor="ana")
    before = (get_incident(fraud, found.id), len(fraud.events()))
    with pytest.raises(InputError, match=r"cannot|unknown incident action"):
        transition(fraud, found.id, illegal, actor="ana")
    assert (get_incident(fraud, found.id), len(fraud.events())) == before


def test_a_resolved_incident_can_be_reopened(fraud: Store) -> None:
    found = open_incident(fraud, "fraud", severity="critical", title="t", actor="ana")
    transition(fraud, found.id, "acknowledge", actor="ana")
    transition(fraud, found.id, "resolve", actor="ana", note="false alarm")
    assert transition(fraud, found.id, "reopen", actor="bob").state == "open"


def test_bad_incident_input_writes_nothing(fraud: Store) -> None:
    events = len(fraud.events())
    bad = [
        lambda: open_incident(fraud, "fraud", severity="urgent", title="t", actor="a"),
        lambda: open_incident(fraud, "fraud", severity="low", title=" ", actor="a"),
        lambda: open_incident(fraud, "nope", severity="low", title="t", actor="a"),
        lambda: open_incident(fraud, "fraud@7", severity="low", title="t", actor="a"),
        lambda: open_incident(fraud, "fraud", severity="low", title="t", actor="a", scans=[99]),
        lambda: transition(fraud, 42, "acknowledge", actor="a"),
        lambda: add_note(fraud, 42, "x", actor="a"),
    ]
    for call in bad:
        with pytest.raises(InputError):
            call()
    assert len(fraud.events()) == events and list_incidents(fraud) == []


def test_links_must_belong_to_the_incidents_model(
    fraud: Store, tmp_path: Path, digits_scan: ScanResult
) -> None:
    versions(fraud, tmp_path, digits_scan, "other", [None])
    found = open_incident(fraud, "fraud", severity="low", title="t", actor="ana")
    with pytest.raises(InputError, match="not a version of 'fraud'"):
        add_note(fraud, found.id, "x", actor="ana", versions=["other@1"])


def test_listing_filters_by_model_and_state(fraud: Store) -> None:
    first = open_incident(fraud, "fraud", severity="low", title="a", actor="ana")
    second = open_incident(fraud, "fraud", severity="high", title="b", actor="ana")
    transition(fraud, first.id, "acknowledge", actor="ana")
    transition(fraud, first.id, "resolve", actor="ana")
    assert [i.id for i in list_incidents(fraud, "fraud")] == [second.id, first.id]
    assert [i.id for i in list_incidents(fraud, open_only=True)] == [second.id]
