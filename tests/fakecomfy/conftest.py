"""Make the ``fake_comfy`` fixture available to the fake's own tests."""

from tests.fakecomfy.fixtures import fake_comfy  # noqa: F401
