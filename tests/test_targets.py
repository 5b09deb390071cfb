"""Targets: shown without their URL's password, and given it back for ledger URLs."""

from __future__ import annotations

from comfycine.settings import resolve
from comfycine.targets import client_for, credentialed_url, named_targets

ENV = {
    "COMFYUI_URL": "http://film:pc-sentinel@100.64.1.2:8188",
    "COMFYCINE_TARGETS": "studio=http://film:studio-sentinel@studio.ts.net:8188",
}


def test_targets_show_the_url_masked() -> None:
    """to_dict (targets, doctor) masks the password; the target keeps it to connect."""
    targets = named_targets(resolve({}, ENV, read_dotenv_file=False))
    assert targets["local"].to_dict()["url"] == "http://film:***@100.64.1.2:8188"
    assert targets["studio"].url == "http://film:studio-sentinel@studio.ts.net:8188"


def test_ledger_url_gets_the_password_of_the_matching_target() -> None:
    """Same scheme, host and port: the configured password is put back."""
    settings = resolve({}, ENV, read_dotenv_file=False)
    bare = "http://studio.ts.net:8188"
    assert credentialed_url(settings, "studio", bare) == ENV["COMFYCINE_TARGETS"][7:]
    assert credentialed_url(settings, "gone", bare) == ENV["COMFYCINE_TARGETS"][7:]
    assert credentialed_url(settings, "local", "http://elsewhere:8188") == "http://elsewhere:8188"
    assert (
        credentialed_url(settings, "local", "http://studio.ts.net:80") == "http://studio.ts.net:80"
    )


def test_a_password_recorded_by_an_older_version_is_replaced() -> None:
    """A ledger URL still holding an old or redacted password takes the configured one."""
    settings = resolve({}, ENV, read_dotenv_file=False)
    old = "http://film:***@100.64.1.2:8188"
    assert credentialed_url(settings, "local", old) == ENV["COMFYUI_URL"]


async def test_client_for_sends_the_configured_password() -> None:
    """client_for's client authenticates while its base_url stays bare."""
    settings = resolve({}, ENV, read_dotenv_file=False)
    async with client_for(settings, "local", "http://100.64.1.2:8188") as client:
        assert client.base_url == "http://100.64.1.2:8188"
        assert client.ws_headers()["Authorization"].startswith("Basic ")
