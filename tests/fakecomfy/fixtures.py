"""Pytest fixture for the fake ComfyUI server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakecomfy.server import FakeComfy


@pytest.fixture
def fake_comfy() -> Iterator[FakeComfy]:
    """A started :class:`FakeComfy` on 127.0.0.1 and a free port, stopped after the test."""
    with FakeComfy() as fake:
        yield fake
