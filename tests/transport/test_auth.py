"""A target's token or password goes to its own origin only; a refusal is exit 7 naming
the variable to fix, and no secret is ever part of a message."""

from __future__ import annotations

import base64
from pathlib import Path

import httpx
import pytest
from websockets.datastructures import Headers
from websockets.exceptions import InvalidStatus
from websockets.http11 import Response

from comfycine.errors import ExitCode, ServerError, SocketRefused, TargetAuthError
from comfycine.transport import ComfyClient
from comfycine.transport.auth import OriginBoundAuth, TargetAuth, travels_in_clear
from comfycine.transport.eventstream import map_ws_errors
from comfycine.transport.failures import raise_for_server_error
from comfycine.transport.probe import probe
from comfycine.transport.records import OutputRef
from tests.fakecomfy.server import FakeComfy

TOKEN = "tok-SENTINEL-4242"
BEARER = TargetAuth.bearer(TOKEN, "COMFYCINE_TARGET_STUDIO_TOKEN")
BASIC = TargetAuth.basic(
    "film", "pw-SENTINEL", "COMFYCINE_TARGET_STUDIO_USER/COMFYCINE_TARGET_STUDIO_PASSWORD"
)
URL = "http://comfy.test:8188"
STATS = {"system": {"comfyui_version": "0.3.75"}, "devices": [{"name": "cpu"}]}
QUEUE = {"queue_running": [], "queue_pending": []}


def recording(seen: list[httpx.Request], answer: httpx.Response) -> httpx.MockTransport:
    """A transport answering ``answer`` to everything, keeping the requests."""

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answer

    return httpx.MockTransport(handler)


def refusing(status: int = 401, challenge: str | None = "Bearer") -> httpx.Response:
    """A refusal as a proxy in front of ComfyUI sends it."""
    headers = {"WWW-Authenticate": challenge} if challenge else {}
    return httpx.Response(status, text="401: Unauthorized", headers=headers)


def test_target_auth_header_values_and_repr() -> None:
    """Bearer and basic headers are right; repr and str name the source, never the secret."""
    assert BEARER.header_value() == f"Bearer {TOKEN}"
    assert BASIC.header_value() == "Basic " + base64.b64encode(b"film:pw-SENTINEL").decode()
    for auth in (BEARER, BASIC):
        shown = f"{auth!r} {auth} {auth.describe()}"
        assert "SENTINEL" not in shown and auth.source in shown
    assert BEARER.describe() == "bearer (COMFYCINE_TARGET_STUDIO_TOKEN)"


async def test_origin_bound_auth_sends_only_to_the_origin() -> None:
    """Same scheme, host and port: the header; another host, port or scheme: none."""
    seen: list[httpx.Request] = []
    async with httpx.AsyncClient(
        base_url=URL, auth=OriginBoundAuth(BEARER, URL), transport=recording(seen, refusing(200))
    ) as http:
        await http.get("/queue")
        await http.get("http://comfy.test:8188/view")
        await http.get("http://storage.test/bucket/out.png")
        await http.get("http://comfy.test:8189/queue")
        await http.get("https://comfy.test:8188/queue")
    sent = [r.headers.get("authorization") for r in seen]
    assert sent == [f"Bearer {TOKEN}", f"Bearer {TOKEN}", None, None, None]


async def test_redirect_to_another_host_does_not_carry_the_token() -> None:
    """A client following a 302 from the target to storage: storage never sees the token."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.host == "comfy.test" and request.url.path == "/view":
            return httpx.Response(302, headers={"Location": "http://storage.test/o.png?sig=1"})
        if request.url.path == "/here":
            return httpx.Response(302, headers={"Location": "/there"})
        return httpx.Response(200, content=b"png")

    async with httpx.AsyncClient(
        base_url=URL,
        auth=OriginBoundAuth(BEARER, URL),
        transport=httpx.MockTransport(handler),
        follow_redirects=True,
    ) as http:
        assert (await http.get("/view")).content == b"png"
        await http.get("/here")
    by_url = {(r.url.host, r.url.path): r.headers.get("authorization") for r in seen}
    assert by_url[("comfy.test", "/view")] == f"Bearer {TOKEN}"
    assert by_url[("storage.test", "/o.png")] is None
    assert by_url[("comfy.test", "/there")] == f"Bearer {TOKEN}"


async def test_client_sends_explicit_auth_on_http_and_socket() -> None:
    """ComfyClient(auth=...) authenticates every request and the socket handshake."""
    seen: list[httpx.Request] = []
    async with ComfyClient(
        URL, auth=BEARER, transport=recording(seen, httpx.Response(200, json=QUEUE))
    ) as c:
        await c.queue()
        assert c.ws_headers() == {"Authorization": f"Bearer {TOKEN}"}
        assert c.auth is BEARER
    assert seen[0].headers["authorization"] == f"Bearer {TOKEN}"


async def test_explicit_auth_wins_over_the_url_password() -> None:
    """With a token and a user:password@ in the URL, only the token is sent."""
    seen: list[httpx.Request] = []
    answer = httpx.Response(200, json=QUEUE)
    url = "http://film:url-pw@comfy.test:8188"
    async with ComfyClient(url, auth=BEARER, transport=recording(seen, answer)) as client:
        await client.queue()
        assert client.ws_headers() == {"Authorization": f"Bearer {TOKEN}"}
    assert seen[0].headers["authorization"] == f"Bearer {TOKEN}"


async def test_refused_token_is_target_auth_naming_the_variable() -> None:
    """A 401: TargetAuthError, exit 7, the target, URL and variable named, no token."""
    async with ComfyClient(
        URL, auth=BEARER, target_name="studio", transport=recording([], refusing())
    ) as client:
        with pytest.raises(TargetAuthError) as info:
            await client.queue()
    error = info.value
    assert error.exit_code == ExitCode.CLOUD_ACCOUNT and error.code == "target_auth"
    assert "Target studio at http://comfy.test:8188" in error.message
    assert "bearer token from COMFYCINE_TARGET_STUDIO_TOKEN" in error.message
    assert "COMFYCINE_TARGET_STUDIO_TOKEN" in error.hint and "comfycine targets" in error.hint
    assert TOKEN not in str(error.to_dict())


async def test_server_asking_for_credentials_names_what_to_set() -> None:
    """No credentials configured: the hint offers the token and the user/password names."""
    async with ComfyClient(
        URL, target_name="studio-2", transport=recording([], refusing(challenge="Basic"))
    ) as client:
        with pytest.raises(TargetAuthError) as info:
            await client.system_stats()
    assert "none are configured" in info.value.message
    for name in ("TOKEN", "USER", "PASSWORD"):
        assert f"COMFYCINE_TARGET_STUDIO_2_{name}" in info.value.hint


async def test_url_password_refusal_masks_it() -> None:
    """A refused user:password@ from the URL: the URL shows *** and the hint says so."""
    url = "http://film:pw-SENTINEL@comfy.test:8188"
    async with ComfyClient(url, target_name="local", transport=recording([], refusing())) as c:
        with pytest.raises(TargetAuthError) as info:
            await c.queue()
    assert "pw-SENTINEL" not in str(info.value.to_dict())
    assert "user:password in the URL" in info.value.hint


async def test_403_is_an_auth_refusal_only_with_a_challenge() -> None:
    """403 with WWW-Authenticate: target_auth; a bare 403 stays a server error."""
    async with ComfyClient(URL, auth=BEARER, transport=recording([], refusing(403))) as c:
        with pytest.raises(TargetAuthError):
            await c.queue()
    async with ComfyClient(URL, auth=BEARER, transport=recording([], refusing(403, None))) as c:
        with pytest.raises(ServerError):
            await c.queue()


async def test_refusals_on_upload_download_and_optional_routes(tmp_path: Path) -> None:
    """/upload/image, /view and Manager routes: a 401 is target_auth, never 'not here'."""
    image = tmp_path / "a.png"
    image.write_bytes(b"png")
    ref = OutputRef(node="9", kind="images", filename="o.png")
    async with ComfyClient(URL, auth=BEARER, transport=recording([], refusing())) as client:
        with pytest.raises(TargetAuthError):
            await client.upload_image(image)
        with pytest.raises(TargetAuthError):
            async with client.stream_output(ref):
                pass
        with pytest.raises(TargetAuthError):
            await client.first_json(["/v2/manager/version"])


def test_generic_boundary_maps_401_without_a_client() -> None:
    """raise_for_server_error (used by subclasses) maps a 401 to target_auth too."""
    headers = {"Authorization": "Bearer x"}
    request = httpx.Request("GET", "http://comfy.test:8188/queue", headers=headers)
    with pytest.raises(TargetAuthError) as info:
        raise_for_server_error(httpx.Response(401, request=request))
    assert info.value.details["sent"] == "bearer"
    assert info.value.details["url"] == "http://comfy.test:8188"


def invalid_status(status: int, challenge: bool) -> InvalidStatus:
    """The exception websockets raises for a refused handshake."""
    headers = Headers({"WWW-Authenticate": "Bearer"} if challenge else {})
    return InvalidStatus(Response(status, "Unauthorized", headers))


def test_socket_refusing_the_token_is_target_auth() -> None:
    """A 401 on the /ws handshake: the client's auth error; without one, SocketRefused."""
    client = ComfyClient(URL, auth=BEARER, target_name="studio")
    with pytest.raises(TargetAuthError), map_ws_errors(URL, client.auth_error):
        raise invalid_status(401, True)
    with pytest.raises(SocketRefused), map_ws_errors(URL):
        raise invalid_status(401, True)
    with pytest.raises(SocketRefused), map_ws_errors(URL, client.auth_error):
        raise invalid_status(403, False)


async def test_probe_sends_the_token_and_reports_a_refusal_as_auth() -> None:
    """The probe authenticates; a refusal is the auth state in a target's words."""
    seen: list[httpx.Request] = []
    ok = await probe(URL, auth=BEARER, transport=recording(seen, httpx.Response(200, json=STATS)))
    assert ok.ok and seen[0].headers["authorization"] == f"Bearer {TOKEN}"
    refused = await probe(URL, auth=BEARER, target="studio", transport=recording([], refusing()))
    assert refused.state == "auth" and refused.status == 401
    assert "COMFYCINE_TARGET_STUDIO_TOKEN" in refused.detail
    assert "Comfy Cloud" not in refused.detail + refused.hint
    assert "COMFYCINE_TARGET_STUDIO_TOKEN" in refused.hint
    assert TOKEN not in str(refused.to_dict())


@pytest.mark.parametrize(
    ("url", "clear"),
    [
        ("http://93.184.216.34:8188", True),
        ("http://gpu.example.com:8188", True),
        ("https://gpu.example.com", False),
        ("http://127.0.0.1:8188", False),
        ("http://localhost:8188", False),
        ("http://192.168.1.20:8188", False),
        ("http://100.64.1.2:8188", False),
        ("http://studio.tail1234.ts.net:8188", False),
        ("http://mac-mini.local:8188", False),
        ("http://studio:8188", False),
        ("http://[::1]:8188", False),
    ],
)
def test_travels_in_clear(url: str, clear: bool) -> None:
    """Plain http beyond loopback, the LAN and the tailnet is in clear; https never."""
    assert travels_in_clear(url) is clear


async def test_fake_server_refusing_the_socket_handshake(fake_comfy: FakeComfy) -> None:
    """On a real socket: a wrong token's 401 handshake is target_auth; the right one opens."""
    fake_comfy.bearer_token = TOKEN
    wrong = ComfyClient(fake_comfy.url, auth=TargetAuth.bearer("nope-nope", "X"), target_name="s")
    right = ComfyClient(fake_comfy.url, auth=BEARER, target_name="studio")
    try:
        refused = wrong.event_source("c1", None)
        assert refused is not None
        with pytest.raises(TargetAuthError) as info:
            await refused.connect()
        assert "Target s at" in info.value.message
        opened = right.event_source("c2", None)
        assert opened is not None
        try:
            await opened.connect()
        finally:
            await opened.close()
        assert "c2" in fake_comfy.ws_feature_flags
    finally:
        await wrong.aclose()
        await right.aclose()
