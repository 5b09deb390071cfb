"""Resumable downloads against the real CPU ComfyUI: its /view honours Range."""

from __future__ import annotations

import httpx
import pytest

from comfycine.ledger import Ledger
from tests.cli_support import Isolation, invoke, outputs_under
from tests.real_server import RealComfyUI

pytestmark = pytest.mark.real

REQUEST_TIMEOUT = 30.0


def rendered_video(isolation: Isolation) -> tuple[str, dict[str, str], bytes]:
    """Render testpattern (an mp4); its job id, /view query and downloaded bytes."""
    result = invoke("generate", "testpattern", "--json")
    assert result.exit_code == 0, result
    data = result.envelope()["data"]
    with Ledger.open(isolation.data_dir / "ledger.sqlite3") as ledger:
        record = ledger.find(data["job"])
    ref = next(r for r in record.remote_outputs if r["type"] == "output")
    query = {"filename": ref["filename"], "subfolder": ref["subfolder"], "type": "output"}
    # The server's own bytes: the local copy has its recipe written in since.
    answer = httpx.get(f"{data['server']}/view", params=query, timeout=REQUEST_TIMEOUT)
    return str(data["job"]), query, answer.content


def test_real_view_answers_a_range_with_206(real: RealComfyUI, isolation: Isolation) -> None:
    """GET /view with Range: bytes=N- is a 206 with the matching Content-Range and bytes."""
    _, query, whole = rendered_video(isolation)
    start = len(whole) // 3
    headers = {"Range": f"bytes={start}-"}
    answer = httpx.get(f"{real.url}/view", params=query, headers=headers, timeout=REQUEST_TIMEOUT)
    assert answer.status_code == 206, answer.headers
    assert answer.headers["content-range"] == f"bytes {start}-{len(whole) - 1}/{len(whole)}"
    assert answer.content == whole[start:]


def test_wait_resumes_a_part_on_the_real_server(real: RealComfyUI, isolation: Isolation) -> None:
    """A rendered job with a dead writer's part: wait keeps its bytes, fetches only the rest."""
    job, _, whole = rendered_video(isolation)
    (first,) = outputs_under(isolation.output_dir)
    half = len(whole) // 2
    part = first.with_name(f"{first.name}.999999999.part")  # a writer long gone
    # Marked bytes, so the result shows they were kept: a restart would overwrite them.
    part.write_bytes(b"\x00" * half)
    first.unlink()
    with Ledger.open(isolation.data_dir / "ledger.sqlite3") as ledger:
        ledger.mark(job, "rendered", outputs=[])
    result = invoke("wait", job[:8], "--json")
    assert result.exit_code == 0, result
    (again,) = outputs_under(isolation.output_dir)
    assert again == first and again.read_bytes() == b"\x00" * half + whole[half:]
