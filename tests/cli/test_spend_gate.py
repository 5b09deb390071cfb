"""The spend gate through the CLI, on a fake ComfyUI that offers partner (paid API) nodes:
every submission path refuses them (exit 9, nothing uploaded, recorded or sent) unless
--allow-spend or a yes at a terminal."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import typer

from tests.batch.support import make_pngs
from tests.captures import CAPTURES
from tests.cli_support import CliResult, Isolation, invoke, ledger_rows
from tests.comfyscript.support import write_script
from tests.fakecomfy.nodes import load_object_info
from tests.fakecomfy.server import FakeComfy
from tests.watch.support import TICK, png_bytes

REAL_INFO: dict[str, Any] = json.loads((CAPTURES / "GET_object_info.json").read_text())
# What a newer server declares for a class (ComfyUI PR #11582); the amount is a test value.
BADGE = {
    "engine": "jsonata",
    "depends_on": {"widgets": [], "inputs": [], "input_groups": []},
    "expr": '{"type":"usd","usd":0.08,"format":{"approximate":true}}',
}
PAID = {
    "1": {
        "class_type": "OpenAIDalle3",
        "inputs": {"prompt": "PARAM_PROMPT", "seed": "PARAM_INT_SEED"},
    },
    "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "paid"}},
}
PAID_UPSCALE = {
    "1": {"class_type": "LoadImage", "inputs": {"image": "PARAM_IMAGE_INPUT"}},
    "2": {"class_type": "StabilityUpscaleFastNode", "inputs": {"image": ["1", 0]}},
    "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "up"}},
}
# One shot: a fixed seed (a drawn one may exceed the node's range; sweeps draw within it).
SHOT = ("-p", "a boat", "--seed", "5")
DALLE = {
    "node": "1",
    "class_type": "OpenAIDalle3",
    "display_name": "OpenAI DALL·E 3",
    "price": {"usd": 0.08, "approximate": True, "text": "~$0.08/Run"},
}


@pytest.fixture
def fake(isolation: Isolation, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeComfy]:
    """The fake ComfyUI with two real partner classes added (one with a price), the
    CLI pointed at it, and the paid templates in the workflow folder."""
    info = load_object_info()
    info["OpenAIDalle3"] = {**copy.deepcopy(REAL_INFO["OpenAIDalle3"]), "price_badge": BADGE}
    info["StabilityUpscaleFastNode"] = copy.deepcopy(REAL_INFO["StabilityUpscaleFastNode"])
    (isolation.workflow_dir / "paid.json").write_text(json.dumps(PAID))
    seed = {"bounds": {"seed": {"min": 0, "max": 2147483647}}}  # the node's own range
    (isolation.workflow_dir / "paid.meta.json").write_text(json.dumps(seed))
    (isolation.workflow_dir / "paidup.json").write_text(json.dumps(PAID_UPSCALE))
    with FakeComfy(object_info=info) as server:
        monkeypatch.setenv("COMFYUI_URL", server.url)
        yield server


@dataclass
class Terminal:
    """A person at a terminal: each question takes the next answer (yes when none left)."""

    answers: list[bool] = field(default_factory=list)
    asked: list[str] = field(default_factory=list)

    def confirm(self, text: str, **_: Any) -> bool:
        """typer.confirm's stand-in."""
        self.asked.append(text)
        return self.answers.pop(0) if self.answers else True


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> Terminal:
    """stdin and stderr taken for terminals, typer.confirm answered by the test."""
    from comfycine.cli import spendconsent

    person = Terminal()
    monkeypatch.setattr(spendconsent, "interactive", lambda: True)
    monkeypatch.setattr(typer, "confirm", person.confirm)
    return person


def refused(result: CliResult) -> dict[str, Any]:
    """The error of an exit-9 spend refusal (asserting it is one)."""
    assert result.exit_code == 9, result
    error: dict[str, Any] = result.envelope()["error"]
    assert error["code"] == "spend_not_allowed" and "--allow-spend" in error["hint"]
    return error


def nothing_sent(fake: FakeComfy, isolation: Isolation) -> None:
    """No prompt, no upload reached the server; the ledger holds no job."""
    assert fake.prompts_received == []
    assert not [r for r in fake.requests if r[0] == "POST"]
    assert ledger_rows(isolation) == []


def test_generate_refuses_partner_nodes(fake: FakeComfy, isolation: Isolation) -> None:
    """generate: exit 9, the node and its server price listed, the exact command in the hint."""
    error = refused(invoke("generate", "paid", *SHOT, "--json"))
    assert error["details"]["nodes"] == [DALLE]
    assert "generate paid --prompt 'a boat' --seed 5 --allow-spend" in error["hint"]
    assert "~$0.08/Run" in error["message"]
    nothing_sent(fake, isolation)


def test_generate_refuses_even_without_validation(fake: FakeComfy, isolation: Isolation) -> None:
    """--no-validate skips the node check, never the spend gate."""
    refused(invoke("generate", "paid", *SHOT, "--no-validate", "--json"))
    nothing_sent(fake, isolation)


def test_allow_spend_sends_it(fake: FakeComfy, isolation: Isolation) -> None:
    """--allow-spend: submitted (on the fake only), with a line saying it bills."""
    result = invoke("generate", "paid", *SHOT, "--allow-spend", "--detach", "--json")
    assert result.exit_code == 0, result
    assert [p["prompt"]["1"]["class_type"] for p in fake.prompts_received] == ["OpenAIDalle3"]
    assert "bill your Comfy account" in result.stderr
    assert len(ledger_rows(isolation)) == 1


def test_a_yes_at_the_terminal_sends_it(
    fake: FakeComfy, isolation: Isolation, terminal: Terminal
) -> None:
    """At a terminal the nodes and price are shown, one question; yes runs it."""
    result = invoke("generate", "paid", *SHOT, "--detach")
    assert result.exit_code == 0, result
    assert len(terminal.asked) == 1
    assert "node 1: OpenAI DALL·E 3 (OpenAIDalle3): ~$0.08/Run" in result.stderr
    assert len(fake.prompts_received) == 1


def test_a_no_at_the_terminal_sends_nothing(
    fake: FakeComfy, isolation: Isolation, terminal: Terminal
) -> None:
    """No: exit 9 and nothing sent."""
    terminal.answers.append(False)
    assert invoke("generate", "paid", *SHOT).exit_code == 9
    nothing_sent(fake, isolation)


def test_a_sweep_is_refused_and_asked_once(
    fake: FakeComfy, isolation: Isolation, terminal: Terminal
) -> None:
    """generate --takes 3: off a terminal refused whole; at one, one question for all."""
    terminal.answers.append(False)
    assert invoke("generate", "paid", "-p", "a boat", "--takes", "3").exit_code == 9
    nothing_sent(fake, isolation)
    result = invoke("generate", "paid", "-p", "a boat", "--takes", "3", "--detach")
    assert result.exit_code == 0, result
    assert len(terminal.asked) == 2
    assert len(fake.prompts_received) == 3


def test_batch_is_refused_before_any_item(
    fake: FakeComfy, isolation: Isolation, tmp_path: Path
) -> None:
    """batch: exit 9 before the first upload; the hint is the same batch with the flag."""
    folder = tmp_path / "in"
    make_pngs(folder, 3)
    error = refused(invoke("batch", str(folder), "paidup", "--json"))
    assert error["details"]["nodes"][0]["class_type"] == "StabilityUpscaleFastNode"
    assert f"batch {folder} paidup --json --allow-spend" in error["hint"]
    nothing_sent(fake, isolation)


def test_batch_asks_once_for_all_its_items(
    fake: FakeComfy, isolation: Isolation, tmp_path: Path, terminal: Terminal
) -> None:
    """At a terminal: one question for three items, then each is sent."""
    folder = tmp_path / "in"
    make_pngs(folder, 3)
    result = invoke("batch", str(folder), "paidup", "--json")
    assert len(terminal.asked) == 1
    # The fake cannot run a partner node: the items fail there, but they were sent.
    assert result.exit_code == 5, result
    assert len(fake.prompts_received) == 3


def test_watch_files_a_refused_input_in_failed(fake: FakeComfy, isolation: Isolation) -> None:
    """watch: nobody to ask; the file goes to failed/ with spend_not_allowed, nothing sent."""
    exchange = isolation.root / "exchange"
    source = exchange / "input" / "paidup" / "plate.png"
    source.parent.mkdir(parents=True)
    source.write_bytes(png_bytes())
    result = invoke("watch", "--once", "--json", "--poll", str(TICK), "--polls", "2")
    assert result.exit_code == 0, result
    reason = json.loads((exchange / "failed" / "paidup" / "plate.png.json").read_text())
    assert reason["error"]["code"] == "spend_not_allowed"
    assert reason["error"]["details"]["nodes"][0]["class_type"] == "StabilityUpscaleFastNode"
    assert (exchange / "failed" / "paidup" / "plate.png").is_file()
    assert fake.prompts_received == []


def test_watch_with_allow_spend_sends_it(fake: FakeComfy, isolation: Isolation) -> None:
    """watch --allow-spend: the file's job is sent (it then fails on the fake)."""
    source = isolation.root / "exchange" / "input" / "paidup" / "plate.png"
    source.parent.mkdir(parents=True)
    source.write_bytes(png_bytes())
    result = invoke("watch", "--once", "--allow-spend", "--poll", str(TICK), "--polls", "2")
    assert result.exit_code == 0, result
    assert len(fake.prompts_received) == 1


def test_install_launchd_carries_the_consent(isolation: Isolation, tmp_path: Path) -> None:
    """watch install-launchd --allow-spend puts the flag in the agent's command."""
    result = invoke("watch", "install-launchd", "--allow-spend", "--dest", str(tmp_path), "--json")
    assert result.exit_code == 0, result
    assert result.envelope()["data"]["program_arguments"][-1] == "--allow-spend"


def test_workflow_run_refuses_an_api_file(
    fake: FakeComfy, isolation: Isolation, tmp_path: Path
) -> None:
    """workflow run FILE.json: exit 9 after its validation, nothing sent."""
    graph = copy.deepcopy(PAID)
    graph["1"]["inputs"] = {"prompt": "a boat", "seed": 1}
    path = tmp_path / "paid.json"
    path.write_text(json.dumps(graph))
    error = refused(invoke("workflow", "run", str(path), "--json"))
    assert error["details"]["workflow"] == "paid"
    nothing_sent(fake, isolation)


def test_workflow_run_refuses_a_comfyscript_graph(
    fake: FakeComfy, isolation: Isolation, tmp_path: Path
) -> None:
    """workflow run SCRIPT.py: the graph the script builds meets the same gate."""
    script = write_script(
        tmp_path,
        """
        with Workflow():
            SaveImage(OpenAIDalle3("a boat"), "paid")
        """,
        name="paid.py",
    )
    error = refused(invoke("workflow", "run", str(script), "--json"))
    assert [n["class_type"] for n in error["details"]["nodes"]] == ["OpenAIDalle3"]
    assert fake.prompts_received == [] and ledger_rows(isolation) == []


def test_retake_refuses_without_consent(fake: FakeComfy, isolation: Isolation) -> None:
    """retake of a paid take: exit 9 and nothing sent, though the first take had consent."""
    first = invoke("generate", "paid", *SHOT, "--allow-spend", "--detach", "--json")
    assert first.exit_code == 0, first
    job = first.envelope()["data"]["job"]
    refused(invoke("retake", job, "--json"))
    assert len(fake.prompts_received) == 1 and len(ledger_rows(isolation)) == 1


def test_validate_lists_partner_nodes_without_failing(fake: FakeComfy) -> None:
    """workflow validate: valid (exit 0), data.partner_nodes with the price, a line each."""
    result = invoke("workflow", "validate", "paid", "--json")
    assert result.exit_code == 0, result
    data = result.envelope()["data"]
    assert data["valid"] is True and data["problems"] == []
    assert data["partner_nodes"] == [DALLE]
    human = invoke("workflow", "validate", "paid")
    assert "partner node 1: OpenAI DALL·E 3 (OpenAIDalle3) bills" in human.stderr
    assert (
        invoke("workflow", "validate", "testimage", "--json").envelope()["data"]["partner_nodes"]
        == []
    )
