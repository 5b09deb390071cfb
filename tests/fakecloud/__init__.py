"""A fake Comfy Cloud (v1 API and API v2) and its storage host (:mod:`tests.fakecloud.server`).

Import the fixture into ``tests/conftest.py`` with
``from .fakecloud.fixtures import fake_cloud  # noqa: F401``.
"""

from tests.fakecloud.fixtures import fake_cloud
from tests.fakecloud.server import FakeCloud

__all__ = ["FakeCloud", "fake_cloud"]
