"""comfycine review: a sweep's page from the ledger, loaded in headless Chromium."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.cli_support import Isolation, invoke
from tests.fakecomfy.server import FakeComfy
from tests.takes.chromium import Chromium
from tests.takes.test_review import MEDIA_CHECK

CHROMIUM = shutil.which("chromium")


@pytest.fixture
def fake(isolation: Isolation, fake_comfy: FakeComfy, monkeypatch: pytest.MonkeyPatch) -> FakeComfy:
    """An isolated CLI pointed at the fake server."""
    monkeypatch.setenv("COMFYUI_URL", fake_comfy.url)
    return fake_comfy


def test_review_of_a_sweep_writes_one_page_with_every_take(fake: FakeComfy) -> None:
    """review --sweep ID --no-open: the page path in the envelope, each take and retake in it."""
    made = invoke("generate", "testimage", "--vary", "color=3,4", "--json")
    sweep = made.envelope()["data"]["sweep"]
    result = invoke("review", "--sweep", sweep, "--no-open", "--json")
    assert result.exit_code == 0, result
    data = result.envelope()["data"]
    page = Path(data["page"])
    assert data["takes"] == 2 and data["opened"] is False and page.is_file()
    text = page.read_text()
    for item in made.envelope()["data"]["items"]:
        assert f"comfycine retake {item['job']}" in text
    assert "color" in text and "3" in text


def test_review_with_nothing_to_show_is_one_line(fake: FakeComfy) -> None:
    """No sweep of that id: exit 2, nothing written."""
    result = invoke("review", "--sweep", "s0123456789a", "--no-open", "--json")
    assert result.exit_code == 2 and result.envelope()["error"]["code"] == "unknown_sweep"


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")
def test_the_review_page_loads_without_errors(fake: FakeComfy, tmp_path: Path) -> None:
    """The sweep's page in headless Chromium: its pictures decode, no console error."""
    sweep = invoke("generate", "testimage", "--vary", "color=5,6", "--json").envelope()["data"][
        "sweep"
    ]
    page = Path(
        invoke("review", "--sweep", sweep, "--no-open", "--json").envelope()["data"]["page"]
    )
    assert CHROMIUM is not None
    with Chromium(CHROMIUM, tmp_path / "profile", timeout=20) as chromium:
        session = chromium.open_page(page.as_uri())
        media = chromium.evaluate(session, MEDIA_CHECK)
        assert media["widths"] and all(width > 0 for width in media["widths"]), media
        assert chromium.errors == []
