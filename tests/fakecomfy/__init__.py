"""A protocol-faithful fake ComfyUI server for tests (see :mod:`tests.fakecomfy.server`).

Import the fixture into ``tests/conftest.py`` with
``from tests.fakecomfy import fake_comfy  # noqa: F401``.
"""

from tests.fakecomfy.fixtures import fake_comfy
from tests.fakecomfy.server import FakeComfy

__all__ = ["FakeComfy", "fake_comfy"]
