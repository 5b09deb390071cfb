"""The real ComfyUI frontend in headless Chromium, converting workflows its own way.

:class:`FrontendPage` opens the page a real ComfyUI serves, waits until the app has
registered the server's node classes, then converts a UI workflow with the frontend's
own calls (``app.loadGraphData`` then ``app.graphToPrompt``) and lists the widgets it
makes for each class. Every wait is bounded: the Chromium session has one deadline for
everything (:mod:`tests.takes.chromium`), and the wait for the app polls against it.

Run as ``python -m tests.graph.frontend_page`` to record the frontend's answers under
``tests/fixtures/frontend/<version>/`` (it starts the real ComfyUI the tests use).
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from tests.takes.chromium import Chromium, ChromiumError

FIXTURES = Path(__file__).parent.parent / "fixtures" / "frontend"
CASES = FIXTURES / "cases"
CONVERT_CASES = Path(__file__).parent / "fixtures" / "convert"
CHROMIUM = shutil.which("chromium")
PAGE_TIMEOUT = 120.0  # seconds for one Chromium session: page load, every conversion
POLL = 0.2
READY = (
    "!!(window.app && window.app.graph && window.LiteGraph"
    " && window.LiteGraph.registered_node_types.KSampler)"
)
# Converts one workflow; the page's clock (naive local time parts) is read around it.
_CONVERT = """(async (wf) => {
  const stamp = (d) => [d.getFullYear(), d.getMonth() + 1, d.getDate(),
    d.getHours(), d.getMinutes(), d.getSeconds()];
  const before = stamp(new Date());
  await window.app.loadGraphData(wf, true, false, null,
    {showMissingNodesDialog: false, showMissingModelsDialog: false});
  const prompt = await window.app.graphToPrompt();
  return {output: prompt.output, before, after: stamp(new Date())};
})"""
# Saved widgets only (the ones ``widgets_values`` fills); a value of undefined is left out.
_WIDGETS = """((names) => {
  const found = {};
  for (const name of names) {
    const node = window.LiteGraph.createNode(name);
    if (!node) continue;
    found[name] = (node.widgets || []).filter((w) => w.serialize !== false)
      .map((w) => w.value === undefined ? {name: w.name} : {name: w.name, value: w.value});
  }
  return found;
})"""


def all_cases() -> dict[str, Path]:
    """Every UI workflow the parity tests convert: the frontend cases and convert's."""
    cases = {p.stem: p for p in sorted(CASES.glob("*.json"))}
    for folder in sorted(CONVERT_CASES.iterdir()):
        if (folder / "ui.json").is_file():
            cases[f"convert-{folder.name}"] = folder / "ui.json"
    return cases


def clock(parts: list[int]) -> datetime:
    """A datetime from the page's ``[year, month, day, hour, minute, second]``."""
    return datetime(*parts)


class FrontendPage:
    """The frontend of a running ComfyUI at ``url``, open in ``chromium``."""

    def __init__(self, chromium: Chromium, url: str) -> None:
        self.chromium = chromium
        self.session = chromium.open_page(url)
        deadline = time.monotonic() + PAGE_TIMEOUT
        while not chromium.evaluate(self.session, READY):
            if time.monotonic() > deadline:
                raise ChromiumError(f"the ComfyUI app at {url} did not start in time")
            time.sleep(POLL)
        self.version = str(chromium.evaluate(self.session, "window.__COMFYUI_FRONTEND_VERSION__"))

    def convert(self, workflow: dict[str, Any]) -> dict[str, Any]:
        """``{"output", "before", "after"}``: the API graph and the page's clock around it."""
        result = self.chromium.evaluate(self.session, f"{_CONVERT}({json.dumps(workflow)})")
        assert isinstance(result, dict)
        return result

    def widgets(self, classes: list[str]) -> dict[str, list[dict[str, Any]]]:
        """Each class's saved widgets as the frontend makes them: name and default value."""
        found = self.chromium.evaluate(self.session, f"{_WIDGETS}({json.dumps(classes)})")
        assert isinstance(found, dict)
        return found


def record(url: str, object_info: dict[str, Any], classes: list[str]) -> Path:
    """Write the frontend's answers for every case, and widgets of ``classes``, to disk."""
    assert CHROMIUM is not None, "recording needs Debian's chromium"
    with (
        tempfile.TemporaryDirectory() as scratch,
        Chromium(CHROMIUM, Path(scratch) / "profile", timeout=PAGE_TIMEOUT) as chromium,
    ):
        page = FrontendPage(chromium, url)
        folder = FIXTURES / page.version
        folder.mkdir(parents=True, exist_ok=True)
        for name, path in all_cases().items():
            answer = page.convert(json.loads(path.read_text()))
            text = json.dumps(answer, indent=1, ensure_ascii=False, sort_keys=True)
            (folder / f"{name}.json").write_text(text + "\n")
        (folder / "widgets.json").write_text(
            json.dumps(page.widgets(classes), indent=1, ensure_ascii=False) + "\n"
        )
    subset = {name: object_info[name] for name in sorted(classes) if name in object_info}
    (folder / "object_info.json").write_text(
        json.dumps(subset, indent=1, ensure_ascii=False) + "\n"
    )
    return folder


def main() -> None:
    """Start the tests' real ComfyUI and record the frontend's answers."""
    import httpx

    from comfycine.localserver import build_server, start_server, terminate_server
    from tests.graph.test_frontend_parity import recorded_classes
    from tests.real_server import real_cache_dir

    install = build_server(real_cache_dir(), log=print)
    with tempfile.TemporaryDirectory() as base:
        server = start_server(install, base_dir=Path(base), record_state=False)
        try:
            info = httpx.get(f"{server.url}/object_info", timeout=60).raise_for_status().json()
            print(record(server.url, info, recorded_classes(info)))
        finally:
            terminate_server(server)


if __name__ == "__main__":
    sys.exit(main())
