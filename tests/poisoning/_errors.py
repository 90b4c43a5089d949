"""Shared assertion for the poisoning tests: bad input is one InputError line."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from redline.errors import InputError


def fails(fn: Callable[[], object], *parts: str) -> str:
    """Call ``fn``; it must raise a one-line InputError containing every ``part``."""
    with pytest.raises(InputError) as info:
        fn()
    message = str(info.value)
    assert "\n" not in message
    for part in parts:
        assert part in message, message
    return message
