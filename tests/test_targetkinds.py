"""What a target's URL points at: by its name, the cache, or one question to the server."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from comfycine import targetkinds
from comfycine.errors import TargetUnreachable
from comfycine.settings import resolve
from comfycine.targetkinds import kind_from_url, resolve_kind, server_url
from comfycine.targets import named_targets
from comfycine.transport.auth import TargetAuth


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("https://cloud.comfy.org", "cloud"),
        ("https://my-shots.run.comfy.app", "deployment"),
        ("https://my-shots.stg.run.comfy.app/", "deployment"),
        ("http://100.64.1.9:8189/api/v2", "v2"),
        ("http://100.64.1.9:8189/api/v2/", "v2"),
        ("http://100.64.1.2:8188", None),
        ("http://comfy.org.evil.example:8188", None),
    ],
)
def test_kind_from_url_alone(url: str, kind: str | None) -> None:
    """Cloud and deployments by host name, /api/v2 by path; anything else must be asked."""
    assert kind_from_url(url) == kind


def test_server_url_drops_the_v2_suffix() -> None:
    """A URL given with /api/v2 is used without it (the client adds it)."""
    assert server_url("http://box:8189/api/v2/") == "http://box:8189"
    assert server_url("https://host/prefix/api/v2") == "https://host/prefix"


def health(counter: list[httpx.Request], status: int = 200) -> httpx.MockTransport:
    """A server whose /api/v2/health answers like comfy-api-proxy (or ``status``)."""

    def answer(request: httpx.Request) -> httpx.Response:
        counter.append(request)
        if status != 200:
            return httpx.Response(status, text="404: Not Found")
        return httpx.Response(200, json={"status": "healthy", "upstream": "http://x"})

    return httpx.MockTransport(answer)


async def test_a_proxy_is_asked_once_then_remembered(tmp_path: Path) -> None:
    """The health answer makes it v2, kept in the cache dir: the next command asks nothing."""
    seen: list[httpx.Request] = []
    url = "http://127.0.0.1:8189"
    first = await resolve_kind(url, cache_dir=tmp_path, transport=health(seen))
    second = await resolve_kind(url, cache_dir=tmp_path, transport=health(seen))
    assert first == second == "v2" and len(seen) == 1
    assert json.loads((tmp_path / "server-kinds.json").read_text())[url]["kind"] == "v2"


async def test_the_answer_expires_and_fresh_asks_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After an hour, or with fresh=True (targets), the server is asked again."""
    seen: list[httpx.Request] = []
    url = "http://127.0.0.1:8188"
    assert await resolve_kind(url, cache_dir=tmp_path, transport=health(seen, 404)) == "comfyui"
    assert await resolve_kind(url, cache_dir=tmp_path, fresh=True, transport=health(seen)) == "v2"
    later = time.time() + targetkinds.KIND_TTL + 1
    monkeypatch.setattr(targetkinds.time, "time", lambda: later)
    await resolve_kind(url, cache_dir=tmp_path, transport=health(seen, 404))
    assert len(seen) == 3


async def test_an_unreachable_server_is_said_at_once_and_not_remembered(
    tmp_path: Path,
) -> None:
    """No connection: exit-3 TargetUnreachable from the question itself, nothing cached."""

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    url = "http://127.0.0.1:9"
    with pytest.raises(TargetUnreachable) as info:
        await resolve_kind(url, cache_dir=tmp_path, transport=httpx.MockTransport(down))
    assert info.value.details["sent"] is False
    assert not (tmp_path / "server-kinds.json").exists()


async def test_the_question_carries_the_targets_token_to_its_origin_only() -> None:
    """A guarded server is asked with its credentials (never anything to elsewhere)."""
    seen: list[httpx.Request] = []
    auth = TargetAuth.bearer("tok-123456", "COMFYCINE_TARGET_BOX_TOKEN")
    await targetkinds.ask_kind("http://127.0.0.1:8189", auth=auth, transport=health(seen))
    assert seen[0].headers["Authorization"] == "Bearer tok-123456"


def test_named_targets_take_their_kind_from_the_url(tmp_path: Path) -> None:
    """COMFYCINE_TARGETS: a deployment is billed with the cloud key; others are asked later."""
    env = {
        "COMFYCINE_TARGETS": "prod=https://shots.run.comfy.app,box=http://127.0.0.1:8189",
        "COMFY_CLOUD_API_KEY": "comfyui-key-1234",
        "COMFYCINE_DATA_DIR": str(tmp_path),
    }
    targets = named_targets(resolve(env=env, read_dotenv_file=False))
    assert targets["prod"].kind == "deployment" and targets["prod"].billed
    assert targets["prod"].to_dict()["auth"] == "bearer (COMFY_CLOUD_API_KEY)"
    assert targets["box"].kind == "auto" and not targets["box"].billed
    assert "comfyui-key-1234" not in str(targets["prod"].to_dict())
