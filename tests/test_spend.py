"""The spend gate: which node list answers, the refusal, the deferral, and the fallback."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import httpx
import pytest

from comfycine.errors import (
    ConsentRequired,
    ExitCode,
    NoCatalog,
    TargetUnreachable,
)
from comfycine.generation import with_fallback
from comfycine.graph.catalog_source import save_snapshot
from comfycine.graph.partner import PartnerNode
from comfycine.results import JobResult
from comfycine.spend import check_graph, check_job, other_snapshots_check, refusal
from comfycine.transport import ComfyClient
from tests.captures import CAPTURES

URL = "http://comfy.test:8188"
OBJECT_INFO: dict[str, Any] = json.loads((CAPTURES / "GET_object_info.json").read_text())
PAID = {
    "1": {"class_type": "OpenAIDalle3", "inputs": {"prompt": "a boat"}},
    "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "x"}},
}
FREE = {
    "1": {"class_type": "EmptyImage", "inputs": {"width": 8, "height": 8}},
    "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "x"}},
}
Handler = Callable[[httpx.Request], httpx.Response]


def serving(seen: list[str]) -> Handler:
    """A ComfyUI answering /object_info (the real capture) and an empty /models."""

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        if request.url.path == "/object_info":
            return httpx.Response(200, json=OBJECT_INFO)
        if request.url.path == "/models":
            return httpx.Response(200, json=[])
        return httpx.Response(404)

    return handle


def untouched(request: httpx.Request) -> httpx.Response:
    """A server that must not be asked."""
    raise AssertionError(f"unexpected request {request.url}")


def unreachable(request: httpx.Request) -> httpx.Response:
    """A server whose name does not resolve."""
    raise httpx.ConnectError("Name or service not known", request=request)


def client_for(handler: Handler, url: str = URL) -> ComfyClient:
    """A client whose requests go to ``handler``."""
    return ComfyClient(url, transport=httpx.MockTransport(handler))


class CataloglessClient:
    """A Comfy API v2 server as the gate sees it: no node list at all."""

    base_url = "https://box.run.comfy.app"

    async def object_info(self, node_class: str | None = None) -> dict[str, Any]:
        raise NoCatalog("box speaks Comfy API v2, which has no node catalog.")

    async def model_folders(self) -> list[str]:
        raise NoCatalog("box speaks Comfy API v2, which has no node catalog.")


async def test_the_snapshot_answers_without_asking_the_server(tmp_path: Path) -> None:
    """A snapshot knowing every class decides alone; without consent: exit 9, the nodes."""
    save_snapshot(tmp_path, URL, OBJECT_INFO, {})
    async with client_for(untouched) as client:
        with pytest.raises(ConsentRequired) as info:
            await check_graph(client, tmp_path, PAID, allowed=False, label="paid")
    error = info.value
    assert error.exit_code == ExitCode.CONSENT == 9 and error.code == "spend_not_allowed"
    assert error.details["nodes"] == [
        {
            "node": "1",
            "class_type": "OpenAIDalle3",
            "display_name": "OpenAI DALL·E 3",
            "price": None,
        }
    ]
    assert "--allow-spend" in error.hint and "OpenAI DALL·E 3 (node 1)" in error.message


async def test_consent_lets_it_through_and_says_so(tmp_path: Path) -> None:
    """allowed: the nodes come back and a notice names them; a free graph says nothing."""
    save_snapshot(tmp_path, URL, OBJECT_INFO, {})
    notices: list[str] = []
    async with client_for(untouched) as client:
        found = await check_graph(
            client, tmp_path, PAID, allowed=True, label="paid", notice=notices.append
        )
        assert await check_graph(client, tmp_path, FREE, allowed=False, label="free") == []
    assert [n.class_type for n in found] == ["OpenAIDalle3"]
    assert len(notices) == 1 and "bill your Comfy account" in notices[0]


async def test_a_snapshot_missing_a_class_reads_the_live_list(tmp_path: Path) -> None:
    """A class installed since the snapshot: the live list is read (and saved), then judged."""
    save_snapshot(tmp_path, URL, {"SaveImage": OBJECT_INFO["SaveImage"]}, {})
    seen: list[str] = []
    async with client_for(serving(seen)) as client:
        with pytest.raises(ConsentRequired):
            await check_graph(client, tmp_path, PAID, allowed=False, label="paid")
    assert "/object_info" in seen
    saved = json.loads((tmp_path / "snapshots" / "comfy.test_8188.json").read_text())
    assert "OpenAIDalle3" in saved["object_info"]


async def test_without_a_node_list_other_snapshots_judge(tmp_path: Path) -> None:
    """A v2 server: the PC's snapshot knows OpenAIDalle3 is a partner node: refused there too."""
    save_snapshot(tmp_path, "http://pc:8188", OBJECT_INFO, {})
    client = cast(ComfyClient, CataloglessClient())
    with pytest.raises(ConsentRequired):
        await check_graph(client, tmp_path, PAID, allowed=False, label="paid")


async def test_classes_no_snapshot_knows_are_said_not_refused(tmp_path: Path) -> None:
    """No node list anywhere knows a class: a notice names it, and the job may go on."""
    save_snapshot(tmp_path, "http://pc:8188", {"SaveImage": OBJECT_INFO["SaveImage"]}, {})
    notices: list[str] = []
    client = cast(ComfyClient, CataloglessClient())
    found = await check_graph(
        client, tmp_path, PAID, allowed=False, label="paid", notice=notices.append
    )
    assert found == [] and len(notices) == 1
    assert "OpenAIDalle3" in notices[0] and "SaveImage" not in notices[0]
    check = other_snapshots_check(tmp_path / "none", PAID)
    assert check.unchecked == ["OpenAIDalle3", "SaveImage"] and check.nodes == []


async def test_the_job_gate_needs_no_server_when_the_snapshot_knows(tmp_path: Path) -> None:
    """check_job on a known graph never waits for the server (its check is still pending)."""
    save_snapshot(tmp_path, URL, OBJECT_INFO, {})
    pending: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    async with client_for(untouched) as client:
        ok = await check_job(client, tmp_path, FREE, allowed=False, label="x", reaching=pending)
        assert ok
        with pytest.raises(ConsentRequired):
            await check_job(client, tmp_path, PAID, allowed=False, label="x", reaching=pending)
    assert not pending.done()


async def test_the_job_gate_waits_for_the_server_then_reads_it(tmp_path: Path) -> None:
    """No snapshot: the server's own check first, then the live list; refused before any job."""
    seen: list[str] = []

    async def reachable() -> None:
        seen.append("reachable")

    async with client_for(serving(seen)) as client:
        with pytest.raises(ConsentRequired):
            await check_job(client, tmp_path, PAID, allowed=False, label="x", reaching=reachable())
    assert seen[0] == "reachable" and "/object_info" in seen


async def test_the_job_gate_defers_when_the_server_cannot_be_read(tmp_path: Path) -> None:
    """Server down and no snapshot: deferred (False), so the job's own error is reported."""

    async def down() -> None:
        raise TargetUnreachable("Cannot reach ComfyUI.")

    async with client_for(unreachable) as client:
        assert not await check_job(
            client, tmp_path, PAID, allowed=False, label="x", reaching=down()
        )

    async def up() -> None:
        return None

    async with client_for(unreachable) as client:
        assert not await check_job(client, tmp_path, PAID, allowed=False, label="x", reaching=up())


@pytest.mark.parametrize("target", [None, "cloud"])
def test_a_refused_spend_is_never_turned_into_a_fallback(target: str | None) -> None:
    """with_fallback lets exit 9 out as it is, from the PC or the cloud: no cloud retry."""
    calls: list[str | None] = []

    def run(where: str | None) -> JobResult:
        calls.append(where)
        raise refusal([PartnerNode("1", "OpenAIDalle3", "OpenAI DALL·E 3")], "paid")

    with pytest.raises(ConsentRequired) as info:
        with_fallback(
            run,
            target=target,
            fallback="cloud",
            on_oom="cloud",
            ask=lambda exc: True,
            command=lambda where: f"cmd --target {where}",
            notice=lambda text: None,
        )
    assert calls == [target] and "fallback" not in info.value.details
