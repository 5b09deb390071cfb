"""Pytest fixture for the fake Comfy Cloud."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakecloud.server import FakeCloud


def serve_fake_cloud() -> Iterator[FakeCloud]:
    """Yield a started :class:`FakeCloud`; on resumption stop it and check for key leaks.

    Raises:
        AssertionError: a request to the storage host carried the API key (a client
            followed the ``/api/view`` redirect with its headers, say).
    """
    with FakeCloud() as cloud:
        yield cloud
        violations = cloud.storage_violations
    assert not violations, f"API key leaked to the storage host: {violations}"


@pytest.fixture
def fake_cloud() -> Iterator[FakeCloud]:
    """A started :class:`FakeCloud`, stopped after the test, which fails on a key leak."""
    yield from serve_fake_cloud()
