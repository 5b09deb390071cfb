"""The Manager client on recorded real exchanges (tests/fixtures/manager-captures):
generations told apart, mappings, queueing, results, reboot; plan and manual steps."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from comfycine.graph.validate import Problem
from comfycine.manager.client import CORE_PACK, ManagerClient, ManagerError, parse_size
from comfycine.manager.manual import Machine, manual_steps
from comfycine.manager.plan import (
    ModelInstall,
    ModelSource,
    PackInstall,
    needs_of,
    resolve_models,
    resolve_packs,
    template_packs,
)

CAPTURES = Path(__file__).parents[1] / "fixtures" / "manager-captures"


def replay(*folders: str) -> tuple[httpx.AsyncClient, list[httpx.Request]]:
    """A client answering from the captures of ``folders`` (method, path and query);
    anything else is 404 for a GET and 405 for a POST, as ComfyUI answers."""
    answers: dict[tuple[str, str, str], dict[str, Any]] = {}
    for folder in folders:
        for path in sorted((CAPTURES / folder).glob("[0-9]*.json")):
            exchange = json.loads(path.read_text())
            request = exchange["request"]
            query = "&".join(f"{k}={v}" for k, v in sorted((request.get("query") or {}).items()))
            answers[(request["method"], request["path"], query)] = exchange["response"]
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        query = "&".join(f"{k}={v}" for k, v in sorted(request.url.params.items()))
        answer = answers.get((request.method, request.url.path, query))
        if answer is None:
            return httpx.Response(404 if request.method == "GET" else 405)
        body = answer.get("body")
        if isinstance(body, str):
            return httpx.Response(answer["status"], text=body)
        return httpx.Response(answer["status"], json=body)

    client = httpx.AsyncClient(base_url="http://pc:8188", transport=httpx.MockTransport(handle))
    return client, seen


def run(coro: Any) -> Any:
    """Run one coroutine."""
    return asyncio.run(coro)


def test_generations_are_told_apart() -> None:
    """4.3 (POST controls, history), 3.x (GET, old routes) and no Manager at all."""
    v4 = run(ManagerClient(replay("01_presence")[0]).detect())
    assert v4.version == "V4.3" and v4.task_queue and v4.post_controls and v4.has_history
    v3 = run(ManagerClient(replay("19_v3_presence")[0]).detect())
    assert (v3.major, v3.v2, v3.task_queue, v3.post_controls) == (3, False, False, False)
    assert v3.route("manager/queue/start") == "/manager/queue/start"
    assert run(ManagerClient(replay("18_manager_absent")[0]).detect()) is None


def test_mappings_prefer_the_core_entry_and_give_install_ids() -> None:
    """Class → pack: ComfyUI's own classes map to the core entry; a URL key's id is its tail."""
    http, _ = replay("01_presence", "02_mappings")
    manager = ManagerClient(http)
    info = run(manager.detect())
    mapped = run(manager.mappings(info))
    assert mapped["KSampler"]["core"] is True and mapped["KSampler"]["repo"] == CORE_PACK
    test_pack = mapped["ComfycineTestNode"]
    assert test_pack["id"] == "comfycine-test-pack" and not test_pack["core"]


def test_a_model_is_queued_started_and_its_result_read() -> None:
    """queue/task with a complete install-model body, POST start, history by ui_id."""
    http, seen = replay("01_presence", "03_install_model")
    manager = ManagerClient(http)
    info = run(manager.detect())
    item = ModelInstall("x.safetensors", "checkpoints", "http://h/x.safetensors", "template")
    run(manager.queue_model(info, item, "comfycine-model", "model-1"))
    run(manager.start(info))
    sent = json.loads(seen[-2].content)
    assert sent["kind"] == "install-model" and sent["params"]["save_path"] == "checkpoints"
    assert set(sent["params"]) >= {"name", "type", "url", "filename", "save_path"}
    assert seen[-1].method == "POST" and seen[-1].content == b""
    ended = run(manager.result(info, "model-1"))
    assert ended is not None and ended.ok


def test_a_failed_model_carries_managers_reason() -> None:
    """A 404 URL: the item's result is an error with Manager's message."""
    http, _ = replay("01_presence", "04_install_model_404")
    manager = ManagerClient(http)
    info = run(manager.detect())
    ended = run(manager.result(info, "gone-1"))
    assert ended is not None and not ended.ok and "installation error" in ended.message


def test_a_refused_reboot_is_a_security_error_and_no_answer_is_fine() -> None:
    """403 on reboot → manager_security; a reboot that drops the connection is success."""
    http, _ = replay("01_presence", "12_security_strong")
    manager = ManagerClient(http)
    info = run(manager.detect())
    with pytest.raises(ManagerError) as caught:
        run(manager.reboot(info))
    assert caught.value.code == "manager_security"

    def drop(request: httpx.Request) -> httpx.Response:
        raise httpx.RemoteProtocolError("Server disconnected", request=request)

    gone = httpx.AsyncClient(base_url="http://pc:8188", transport=httpx.MockTransport(drop))
    run(ManagerClient(gone).reboot(info))


def test_sizes_are_read_from_managers_display_strings() -> None:
    """'4.71MB' and '2GB' in bytes; nonsense is unknown."""
    assert parse_size("4KB") == 4096 and parse_size("2GB") == 2 * 1024**3
    assert parse_size("4.71MB") == int(4.71 * 1024**2)
    assert parse_size("big") is None and parse_size(None) is None


def test_the_plan_takes_each_need_from_the_first_source_that_knows_it() -> None:
    """The template's URL beats Manager's; an unknown model and class stay unresolved."""
    graph = {
        "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "a.safetensors"}},
        "2": {"class_type": "LoraLoader", "inputs": {"lora_name": "sub/b.safetensors"}},
    }
    problems = [
        Problem("1", "CheckpointLoaderSimple", "ckpt_name", "missing_model", "m"),
        Problem("2", "LoraLoader", "lora_name", "missing_model", "m"),
        Problem("3", "FancyNode", None, "unknown_node", "n"),
        Problem("4", "Other", None, "unknown_node", "n"),
        Problem("5", "KSampler", "steps", "bad_value", "v"),
    ]
    models, classes, other = needs_of(problems, graph, [])
    assert [(m.name, m.folder) for m in models] == [
        ("a.safetensors", "checkpoints"),
        ("sub/b.safetensors", "loras"),
    ]
    assert list(classes) == ["FancyNode", "Other"] and [p.code for p in other] == ["bad_value"]
    template = ModelSource("template", [{"name": "a.safetensors", "url": "https://t/a"}])
    listed = {"filename": "a.safetensors", "url": "https://m/a", "save_path": "checkpoints"}
    plan = resolve_models(models, [template, ModelSource("manager", [listed])])
    assert [(m.url, m.source) for m in plan.models] == [("https://t/a", "template")]
    assert plan.unresolved[0]["name"] == "sub/b.safetensors"
    packs = template_packs([{"id": "fancy", "repo": "https://g/fancy", "classes": ["FancyNode"]}])
    resolve_packs(classes, [packs], plan)
    assert [p.id for p in plan.packs] == ["fancy"] and plan.unresolved[-1]["name"] == "Other"


def test_manual_steps_are_written_for_the_pcs_shell() -> None:
    """PowerShell with curl.exe and the portable Python on Windows; curl and python elsewhere."""
    plan = resolve_models([], [])
    plan.models.append(ModelInstall("wan/x.safetensors", "diffusion_models", "https://h/x", "t"))
    plan.packs.append(PackInstall("p", "Pack", "https://g/o/Pack", ("N",), "manager"))
    stats = {"system": {"os": "nt", "embedded_python": True}}
    windows = manual_steps(plan, Machine.from_system_stats(stats))
    assert (
        'curl.exe -L --create-dirs -o "models\\diffusion_models\\wan\\x.safetensors"' in windows[1]
    )
    assert windows[3].startswith("..\\python_embeded\\python.exe -m pip install -r")
    assert windows[-1] == "restart ComfyUI"
    posix = manual_steps(plan, Machine(windows=False))
    assert posix[1].startswith('curl -L --create-dirs -o "models/diffusion_models/wan/x')


def test_a_restart_that_never_comes_back_is_a_bounded_clear_error() -> None:
    """The server stays down after the reboot: exit 3 restart_timeout within the bound."""
    from comfycine.errors import TargetUnreachable
    from comfycine.manager import fixing

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    http = httpx.AsyncClient(base_url="http://pc:8188", transport=httpx.MockTransport(down))
    manager = ManagerClient(http)
    info = run(ManagerClient(replay("01_presence")[0]).detect())
    with pytest.raises(TargetUnreachable) as caught:
        run(fixing._restart(manager, info, 1.5, lambda _text: None))
    assert caught.value.code == "restart_timeout" and "within 2 s" in caught.value.message


def test_refusals_come_with_how_to_allow_them_on_the_pc() -> None:
    """Manager's 'failed' → network_mode = personal_cloud; a security-level refusal →
    security_level = normal; then the item's own commands."""
    from comfycine.manager import fixing
    from comfycine.manager.plan import FixPlan

    model = ModelInstall("x.safetensors", "checkpoints", "https://h/x", "template")
    for message, wanted in (
        ("failed", "network_mode = personal_cloud"),
        ("ComfyUI-Manager refused it; its security level does not allow it.", "security_level"),
    ):
        result = fixing.FixResult("t", FixPlan(models=[model]))
        result.installed = [{"kind": "model", "name": "x.safetensors", "ok": False,
                             "message": message}]  # fmt: skip
        steps = fixing._left_steps(result, Machine())
        assert wanted in steps[0] and any("https://h/x" in step for step in steps)
