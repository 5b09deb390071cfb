"""The spend gate on the real ComfyUI's own partner node classes (never submitted)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.cli.test_generate_real import write_template
from tests.cli_support import Isolation, invoke, ledger_rows
from tests.real_server import RealComfyUI

pytestmark = pytest.mark.real

# OpenAI DALL·E 3 and Kling text-to-video: partner classes the real server lists.
PAID = {
    "1": {"class_type": "OpenAIDalle3", "inputs": {"prompt": "PARAM_PROMPT", "seed": 1}},
    "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "paid"}},
    "3": {
        "class_type": "KlingTextToVideoNode",
        "inputs": {
            "prompt": "PARAM_PROMPT",
            "negative_prompt": "",
            "cfg_scale": 0.5,
            "aspect_ratio": "16:9",
            "mode": "standard mode / 5s duration / kling-v1",
        },
    },
    "4": {
        "class_type": "SaveVideo",
        "inputs": {"video": ["3", 0], "filename_prefix": "paid", "format": "auto", "codec": "auto"},
    },
}


def server_jobs(real: RealComfyUI) -> tuple[set[str], dict[str, Any]]:
    """The prompt ids in the server's history, and its queue."""
    with httpx.Client(base_url=real.url, timeout=10) as http:
        history = http.get("/history").json()
        queue = http.get("/queue").json()
    return set(history), queue


def test_partner_nodes_are_refused_before_reaching_the_server(
    real: RealComfyUI, isolation: Isolation
) -> None:
    """generate (checked or not): exit 9 naming both nodes; the server's history and queue
    are unchanged and the ledger is empty."""
    write_template(isolation.workflow_dir, "paid", PAID)
    before = server_jobs(real)
    for extra in ((), ("--no-validate",)):
        result = invoke("generate", "paid", "-p", "a boat", "--json", *extra)
        assert result.exit_code == 9, result
        error = result.envelope()["error"]
        assert error["code"] == "spend_not_allowed"
        nodes = error["details"]["nodes"]
        assert [(n["node"], n["class_type"]) for n in nodes] == [
            ("1", "OpenAIDalle3"),
            ("3", "KlingTextToVideoNode"),
        ]
        assert nodes[0]["display_name"] == "OpenAI DALL·E 3" and nodes[0]["price"] is None
    assert server_jobs(real) == before
    assert ledger_rows(isolation) == []


def test_validate_lists_the_real_partner_nodes(real: RealComfyUI, isolation: Isolation) -> None:
    """workflow validate on the real server: the partner nodes listed, the graph valid."""
    write_template(isolation.workflow_dir, "paid", PAID)
    result = invoke("workflow", "validate", "paid", "--json")
    assert result.exit_code == 0, result
    data = result.envelope()["data"]
    assert data["catalog"] == "live" and data["valid"] is True
    assert [n["class_type"] for n in data["partner_nodes"]] == [
        "OpenAIDalle3",
        "KlingTextToVideoNode",
    ]
