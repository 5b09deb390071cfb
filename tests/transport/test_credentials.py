"""A URL's password goes out as basic auth and nowhere else; error bodies stay one line."""

from __future__ import annotations

import base64
from pathlib import Path

import httpx
import pytest

from comfycine.errors import MediaNotFound, RejectedError, ServerError, UsageError
from comfycine.transport import ComfyClient
from comfycine.transport.cloud import CloudClient
from comfycine.transport.eventstream import EventStream
from comfycine.transport.probe import probe
from comfycine.transport.uploads import upload_media

PASSWORD = "hunter2-sentinel-pw"
URL = f"http://film:{PASSWORD}@comfy.test:8188"
BASIC = "Basic " + base64.b64encode(f"film:{PASSWORD}".encode()).decode()


def recording(seen: list[httpx.Request], response: httpx.Response) -> httpx.MockTransport:
    """A transport answering ``response`` to everything, keeping the requests."""

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return response

    return httpx.MockTransport(handler)


async def test_client_sends_basic_auth_and_keeps_a_bare_url() -> None:
    """Every request carries the basic auth; base_url (ledger, errors) has no userinfo."""
    seen: list[httpx.Request] = []
    answer = httpx.Response(200, json={"queue_running": [], "queue_pending": []})
    async with ComfyClient(URL, transport=recording(seen, answer)) as client:
        await client.queue()
        assert client.base_url == "http://comfy.test:8188"
        assert client.ws_headers() == {"Authorization": BASIC}
    assert seen[0].headers["authorization"] == BASIC
    assert PASSWORD not in str(seen[0].url)


async def test_client_without_password_sends_no_auth() -> None:
    """No userinfo, no Authorization header and no socket headers."""
    seen: list[httpx.Request] = []
    answer = httpx.Response(200, json={"queue_running": [], "queue_pending": []})
    async with ComfyClient("http://comfy.test:8188", transport=recording(seen, answer)) as c:
        await c.queue()
        assert c.ws_headers() == {}
    assert "authorization" not in seen[0].headers


@pytest.mark.parametrize("url", ["http://film:pw@comfy:99999", "http://[::1:8188", "http://"])
def test_client_refuses_an_unusable_url_as_usage(url: str) -> None:
    """A URL that cannot be parsed is a usage error (exit 2), never a crash."""
    with pytest.raises(UsageError) as info:
        ComfyClient(url)
    assert info.value.code == "invalid_setting" and ":pw@" not in info.value.message


def test_event_stream_sends_basic_auth_from_headers_or_userinfo() -> None:
    """The socket gets the client's headers; a password left in the URL is used, not shown."""
    given = EventStream("http://comfy.test:8188", "c1", headers={"Authorization": BASIC})
    from_url = EventStream(URL, "c1")
    assert given._headers == from_url._headers == {"Authorization": BASIC}
    assert from_url.base_url == "http://comfy.test:8188"


async def test_probe_authenticates_and_masks_the_password() -> None:
    """The probe sends basic auth; its result shows the URL with *** only."""
    seen: list[httpx.Request] = []
    stats = {"system": {"comfyui_version": "0.3.75"}, "devices": [{"name": "cpu"}]}
    result = await probe(URL, transport=recording(seen, httpx.Response(200, json=stats)))
    assert result.ok and result.url == "http://film:***@comfy.test:8188"
    assert seen[0].headers["authorization"] == BASIC


async def test_probe_of_an_unusable_url_is_a_state_not_a_crash() -> None:
    """A bad port is the bad_url state with the URL masked."""
    result = await probe("http://film:pw-sentinel@pc:99999")
    assert result.state == "bad_url" and "pw-sentinel" not in str(result.to_dict())


MULTI_LINE = 'Traceback (most recent call last):\n  File "server.py", line 9\nValueError: bad\n'


async def test_server_error_body_is_one_line_with_the_body_in_details() -> None:
    """A multi-line 500: its meaningful line in the message, the whole text in details."""
    answer = httpx.Response(500, text=MULTI_LINE)
    async with ComfyClient(URL, transport=recording([], answer)) as client:
        with pytest.raises(ServerError) as info:
            await client.queue()
    assert info.value.message.endswith(": ValueError: bad")
    assert info.value.details["body"] == MULTI_LINE.strip()


async def test_cloud_server_error_body_is_one_line() -> None:
    """Comfy Cloud's 5xx with a multi-line message: one line, the text in details."""
    answer = httpx.Response(503, json={"message": "Overloaded.\n\nTry again\n later."})
    cloud = CloudClient("https://cloud.test", api_key="k-sentinel", transport=recording([], answer))
    async with cloud:
        with pytest.raises(ServerError) as info:
            await cloud.queue()
    assert info.value.message.endswith(": Overloaded. Try again later.")
    assert "\n" in info.value.details["body"]


async def test_upload_refusal_body_is_one_line(tmp_path: Path) -> None:
    """A refused upload's multi-line body: one line in the message, all in details."""
    image = tmp_path / "a.png"
    image.write_bytes(b"png")
    answer = httpx.Response(400, text="Bad file.\n  Expected an image.\n")
    async with ComfyClient(URL, transport=recording([], answer)) as client:
        with pytest.raises(RejectedError) as info:
            await client.upload_image(image)
    assert "Bad file. Expected an image." in str(info.value)
    assert "\n" not in str(info.value)


async def test_upload_of_an_empty_file_is_refused_before_sending(tmp_path: Path) -> None:
    """The last guard: a 0-byte file raises media_empty and no request leaves."""
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    seen: list[httpx.Request] = []
    answer = httpx.Response(200, json={"name": "x.png"})
    async with ComfyClient(URL, transport=recording(seen, answer)) as client:
        with pytest.raises(MediaNotFound) as info:
            await upload_media(client, {"image": empty})
    assert info.value.code == "media_empty" and str(empty) in info.value.message
    assert seen == []
