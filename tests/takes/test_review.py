"""The review page: escaping, embedded pictures, linked videos, layouts, atomic write, opening.

The ``browser`` tests load real pages in headless Chromium (Debian's ``chromium``; skipped
when it is not on PATH) through the DevTools protocol over ``--remote-debugging-pipe``
(:mod:`tests.takes.chromium`): no port, every read bounded by one deadline. After the
load event one awaited ``Runtime.evaluate`` reads, in the page, each ``<img>``'s
``naturalWidth`` after ``img.decode()`` and each ``<video>``'s ``duration`` after
``loadedmetadata`` (both with an in-page timeout). Console errors are every
``Runtime.exceptionThrown``, ``console.error``/``assert`` call and error-level
``Log.entryAdded`` (failed loads, scripts refused by the CSP) seen on the pipe; a
control page with a missing file and a ``console.error`` proves they are caught.
"""

from __future__ import annotations

import base64
import html
import io
import os
import re
import shutil
import sys
import time
import urllib.parse
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image

from comfycine.errors import OutputNotWritable
from comfycine.takes import review
from comfycine.takes.review import ReviewTake, open_in_browser, write_review

from .chromium import Chromium

HOSTILE = '</dd><script>window.pwned = 1</script><img src=x onerror="window.pwned = 2">'
CHROMIUM = shutil.which("chromium")
browser = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not on PATH")


def png(path: Path, size: tuple[int, int], color: tuple[int, int, int] = (200, 40, 40)) -> Path:
    """Write a solid PNG of ``size``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).save(path)
    return path


def make_take(job: str, **changes: object) -> ReviewTake:
    """A succeeded take with no media, fields overridden by ``changes``."""
    fields: dict[str, object] = {
        "job": job,
        "files": [],
        "poster": None,
        "sheet": None,
        "thumbnail": None,
        "template": "still",
        "params": {"prompt": "a red door", "cfg": 7},
        "seeds": {"seed": 1},
        "target": "local",
        "status": "succeeded",
        "pick": None,
        "note": None,
        "retake_command": f"comfycine retake {job}",
    }
    fields.update(changes)
    return ReviewTake(**fields)  # type: ignore[arg-type]


class Tags(HTMLParser):
    """Every start tag with its attributes, and the text inside each element id."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: dict[str, str] = {}
        self._open: list[str | None] = []
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Record the tag; follow its id for the text inside."""
        self.tags.append((tag, dict(attrs)))
        if tag not in ("meta", "link", "img", "input", "br", "source"):
            self._open.append(dict(attrs).get("id"))

    def handle_endtag(self, tag: str) -> None:
        """Close the innermost element."""
        if self._open:
            self._open.pop()

    def handle_data(self, data: str) -> None:
        """Add text to every open element that has an id."""
        for ident in self._open:
            if ident:
                self.text[ident] = self.text.get(ident, "") + data

    def all(self, tag: str, **attrs: str) -> list[dict[str, str | None]]:
        """The attributes of each ``tag`` whose attributes include ``attrs``."""
        return [
            a for t, a in self.tags if t == tag and all(a.get(k) == v for k, v in attrs.items())
        ]


def test_hostile_values_are_escaped(tmp_path: Path) -> None:
    """Markup in any ledger value shows as text: the page's one script is its own."""
    take = make_take(
        '"><script>job</script>',
        params={"prompt": HOSTILE},
        note=HOSTILE,
        template=HOSTILE,
        target=HOSTILE,
        status="failed",
        error=HOSTILE,
        pick=HOSTILE,
        retake_command=f"comfycine retake x --set prompt='{HOSTILE}'",
        sweep=HOSTILE,
        cell={"prompt": HOSTILE},
    )
    page = write_review([take], tmp_path / "review.html", title=HOSTILE).read_text()
    assert page.count("<script") == 1
    assert "onerror=" not in page.replace(html.escape('onerror="'), "")
    assert html.escape(HOSTILE) in page
    grid = write_review([take], tmp_path / "grid.html", title="t", varied=["prompt"]).read_text()
    assert grid.count("<script") == 1


def test_pictures_are_embedded_as_data_uris(tmp_path: Path) -> None:
    """Poster, contact sheet and thumbnail are in the page as decodable data URIs."""
    take = make_take(
        "j1",
        files=[png(tmp_path / "out" / "still.png", (640, 360))],
        thumbnail=png(tmp_path / "out" / "thumb.png", (64, 36)),
        poster=png(tmp_path / "out" / "poster.png", (48, 27)),
        sheet=png(tmp_path / "out" / "sheet.png", (96, 54)),
    )
    page = write_review([take], tmp_path / "page" / "review.html", title="t").read_text()
    sizes = set()
    for uri in re.findall(r'src="(data:[^"]+)"', page):
        head, payload = uri.split(",", 1)
        assert head == "data:image/png;base64"
        sizes.add(Image.open(io.BytesIO(base64.b64decode(payload))).size)
    assert sizes == {(64, 36), (48, 27), (96, 54)}


def test_big_pictures_are_linked_not_embedded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A picture over the embedding limit is shown from its file by a relative path."""
    monkeypatch.setattr(review, "EMBED_LIMIT", 10)
    take = make_take("j1", sheet=png(tmp_path / "out" / "sheet.png", (96, 54)))
    page = write_review([take], tmp_path / "review.html", title="t").read_text()
    assert "data:image" not in page
    assert Tags(page).all("img", src="out/sheet.png")


def test_videos_play_from_a_relative_path(tmp_path: Path) -> None:
    """A video is linked relative to the page's folder, quoted, and resolves to the file."""
    clip = tmp_path / "outputs" / "shot #1 take.mp4"
    clip.parent.mkdir()
    clip.write_bytes(b"not really a video")
    out = tmp_path / "reviews" / "review.html"
    page = write_review([make_take("j1", files=[clip])], out, title="t").read_text()
    [video] = Tags(page).all("video")
    assert "controls" in video
    assert video["preload"] == "metadata"
    assert video["src"] == "../outputs/shot%20%231%20take.mp4"
    assert urllib.parse.urljoin(out.as_uri(), video["src"]) == clip.as_uri()
    assert "not really" not in page


def test_missing_files_are_named_not_linked(tmp_path: Path) -> None:
    """An output or picture gone from disk is named, with no element that would fail to load."""
    gone = tmp_path / "gone.mp4"
    take = make_take("j1", files=[gone], sheet=tmp_path / "gone-sheet.png")
    tags = Tags(write_review([take], tmp_path / "review.html", title="t").read_text())
    assert not tags.all("video")
    assert not tags.all("img")
    assert not tags.all("a")
    assert [a for a in tags.all("p") if a.get("class") == "missing"]


def grid_cells(page: str) -> list[list[str]]:
    """The grid's rows: header texts and, per cell, the jobs of its takes."""
    table = page[page.index('<table class="grid">') : page.index("</table>")]
    rows = []
    for row in re.findall(r"<tr>(.*?)</tr>", table, flags=re.S):
        cells = re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, flags=re.S)
        rows.append(
            [" ".join(re.findall(r'data-job="([^"]*)"', c)) or html.unescape(c) for c in cells]
        )
    return rows


def test_sweep_is_a_labelled_grid(tmp_path: Path) -> None:
    """A 2×2 sweep: columns by the last varied name, rows by the first, one take a cell."""
    takes = [
        make_take(f"s{seed}c{cfg}", cell={"seed": str(seed), "cfg": str(cfg)}, created=n)
        for n, (seed, cfg) in enumerate([(1, 5), (1, 7), (2, 5), (2, 7)], start=1)
    ]
    takes.append(make_take("outside", created=9))
    page = write_review(takes[::-1], tmp_path / "r.html", title="t", varied=["seed", "cfg"])
    text = page.read_text()
    assert grid_cells(text) == [
        ["seed", "cfg = 5", "cfg = 7"],
        ["seed = 1", "s1c5", "s1c7"],
        ["seed = 2", "s2c5", "s2c7"],
    ]
    assert 'data-job="outside"' in text.split("</table>")[1]
    assert 'data-layout="grid"' in text


def test_varied_parameters_are_highlighted(tmp_path: Path) -> None:
    """Varied parameters and seeds are marked, in the grid and in a list of sweep takes."""
    take = make_take("j", params={"prompt": "door", "cfg": 7}, cell={"cfg": "7", "seed": "1"})
    grid = write_review([take], tmp_path / "g.html", title="t", varied=["cfg", "seed"])
    listed = write_review([take], tmp_path / "l.html", title="t")
    for page in (grid.read_text(), listed.read_text()):
        assert '<dt class="varied">cfg</dt><dd class="varied">7</dd>' in page
        assert '<dt class="varied">seed</dt><dd class="varied">1</dd>' in page
        assert "<dt>prompt</dt><dd>door</dd>" in page
        assert "<dt>target</dt><dd>local</dd>" in page


def test_list_is_newest_first_with_status_pick_and_note(tmp_path: Path) -> None:
    """Without a sweep, takes are listed newest first, with error, pick badge and note."""
    takes = [
        make_take("old", created=100, pick="picked"),
        make_take("new", created=300, status="failed", error="CUDA out of memory"),
        make_take("mid", created=200, pick="rejected", note="too dark"),
    ]
    page = write_review(takes, tmp_path / "r.html", title="t").read_text()
    tags = Tags(page)
    assert [a["data-job"] for a in tags.all("article")] == ["new", "mid", "old"]
    assert [a["data-pick"] for a in tags.all("article")] == ["none", "rejected", "picked"]
    assert '<pre class="error">CUDA out of memory</pre>' in page
    assert '<span class="badge pick-picked">picked</span>' in page
    assert '<p class="note">too dark</p>' in page
    assert 'data-layout="list"' in page


def test_copy_button_copies_the_exact_command(tmp_path: Path) -> None:
    """Each copy button names the code element holding the retake command, verbatim."""
    command = "comfycine retake j1 --set prompt='a \"red\" <door> & more' --seed 7"
    page = write_review([make_take("j1", retake_command=command)], tmp_path / "r.html", title="t")
    tags = Tags(page.read_text())
    [button] = tags.all("button")
    assert tags.text[str(button["data-copy"])] == command


def test_write_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A failed write keeps the old page and leaves no part file; a good one replaces it."""
    out = tmp_path / "r.html"
    write_review([make_take("first")], out, title="t")

    def refuse(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(review.os, "replace", refuse)
    with pytest.raises(OutputNotWritable) as caught:
        write_review([make_take("second")], out, title="t")
    assert caught.value.code == "disk_full"
    assert 'data-job="first"' in out.read_text()
    assert os.listdir(tmp_path) == ["r.html"]
    monkeypatch.undo()
    write_review([make_take("second")], out, title="t")
    assert 'data-job="second"' in out.read_text()
    assert os.listdir(tmp_path) == ["r.html"]


def test_unwritable_folder_is_one_clear_error(tmp_path: Path) -> None:
    """A file where the page's folder should be raises OutputNotWritable naming the page."""
    (tmp_path / "blocker").write_text("")
    with pytest.raises(OutputNotWritable, match="review page"):
        write_review([], tmp_path / "blocker" / "r.html", title="t")


@pytest.mark.skipif(sys.platform not in ("linux", "darwin"), reason="opener commands")
def test_open_in_browser_launches_without_waiting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The platform opener is started with the page and not waited for."""
    stop, done = tmp_path / "stop", tmp_path / "done"
    opener = tmp_path / "bin" / ("open" if sys.platform == "darwin" else "xdg-open")
    opener.parent.mkdir()
    # The opener holds until the test says stop (at most ~10 s), then says what it got.
    opener.write_text(
        "#!/bin/sh\n"
        f'n=0; while [ ! -e "{stop}" ] && [ $n -lt 200 ]; do sleep 0.05; n=$((n+1)); done\n'
        f'echo "$1" > "{done}.part" && mv "{done}.part" "{done}"\n'
    )
    opener.chmod(0o755)
    monkeypatch.setenv("PATH", f"{opener.parent}{os.pathsep}/bin{os.pathsep}/usr/bin")
    assert open_in_browser(tmp_path / "r.html") is True
    assert not done.exists()
    stop.touch()
    deadline = time.monotonic() + 15
    while not done.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert done.read_text().strip() == str(tmp_path / "r.html")


@pytest.mark.skipif(sys.platform not in ("linux", "darwin"), reason="opener commands")
def test_open_in_browser_without_an_opener(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With no opener on PATH it reports False instead of raising."""
    monkeypatch.setenv("PATH", str(tmp_path))
    assert open_in_browser(tmp_path / "r.html") is False


MEDIA_CHECK = """(async () => {
  const settle = (promise, late) =>
    Promise.race([promise, new Promise((r) => setTimeout(() => r(late), 8000))]);
  const widths = await Promise.all([...document.images].map((img) =>
    settle(img.decode().then(() => img.naturalWidth, () => 0), -1)));
  const durations = await Promise.all([...document.querySelectorAll("video")].map((video) =>
    settle(new Promise((resolve) => {
      if (video.readyState >= 1 || video.error) { resolve(video.error ? -1 : video.duration); }
      video.addEventListener("loadedmetadata", () => resolve(video.duration));
      video.addEventListener("error", () => resolve(-1));
    }), -2)));
  return {widths, durations, pwned: window.pwned === undefined ? null : window.pwned};
})()"""

FILTER_CHECK = """((value) => {
  document.querySelector(`input[name="filter"][value="${value}"]`).click();
  const visible = [...document.querySelectorAll(".take")].filter((take) =>
    take.getClientRects().length > 0 && getComputedStyle(take).visibility !== "hidden");
  return [document.getElementById("shown").textContent, visible.map((t) => t.dataset.job)];
})"""

COPY_CHECK = """(async () => {
  const clipboard = navigator.clipboard;
  const copy = async (button) => {
    button.click();
    for (let i = 0; i < 200 && !button.hasAttribute("data-copied"); i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    return [button.getAttribute("data-copied"), await clipboard.readText()];
  };
  const [first, second] = document.querySelectorAll("button.copy");
  const api = await copy(first);
  // A file:// page in some browsers has no asynchronous clipboard: the fallback must copy.
  Object.defineProperty(navigator, "clipboard", {value: undefined, configurable: true});
  return {api, fallback: await copy(second)};
})()"""


def mp4(path: Path, *, frames: int = 8, rate: int = 8) -> Path:
    """Write a short H.264 MP4 (``frames`` / ``rate`` seconds) with PyAV."""
    av = pytest.importorskip("av")
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        for index in range(frames):
            image = Image.new("RGB", (64, 64), (index * 30, 80, 160))
            container.mux(stream.encode(av.VideoFrame.from_image(image)))
        container.mux(stream.encode())
    return path


@pytest.fixture
def chromium(tmp_path: Path) -> Iterator[Chromium]:
    """A headless Chromium with a fresh profile, at most 20 s for the whole test."""
    assert CHROMIUM is not None
    with Chromium(CHROMIUM, tmp_path / "profile", timeout=20) as instance:
        yield instance


@pytest.mark.browser
@browser
def test_page_loads_in_chromium(tmp_path: Path, chromium: Chromium) -> None:
    """Pictures decode, the video's metadata loads, filter and copy work, nothing logs an error."""
    out = tmp_path / "outputs"
    clip = make_take(
        "clip",
        files=[mp4(out / "shot 1.mp4")],
        poster=png(out / "poster.png", (64, 64)),
        sheet=png(out / "sheet.png", (256, 80)),
        params={"prompt": HOSTILE},
        pick="picked",
        created=2,
        retake_command="comfycine retake clip --seed 1",
    )
    still = make_take(
        "still",
        files=[png(out / "still.png", (640, 360))],
        thumbnail=png(out / "thumb.png", (64, 36)),
        pick="rejected",
        created=1,
        retake_command=f"comfycine retake still --set prompt='{HOSTILE}'",
    )
    failed = make_take("failed", status="failed", error=HOSTILE, files=[out / "gone.png"])
    page = write_review([still, clip, failed], tmp_path / "page" / "review.html", title=HOSTILE)
    session = chromium.open_page(page.as_uri())

    media = chromium.evaluate(session, MEDIA_CHECK)
    assert media["pwned"] is None
    assert media["widths"] == [256, 64], media
    assert len(media["durations"]) == 1
    assert media["durations"][0] > 0, media

    assert chromium.evaluate(session, f"{FILTER_CHECK}('picked')") == ["1 shown", ["clip"]]
    kept = chromium.evaluate(session, f"{FILTER_CHECK}('kept')")
    assert kept == ["2 shown", ["clip", "failed"]]
    chromium.evaluate(session, f"{FILTER_CHECK}('all')")

    chromium.call("Browser.grantPermissions", {"permissions": ["clipboardReadWrite"]})
    copied = chromium.evaluate(session, COPY_CHECK, user_gesture=True)
    assert copied["api"] == ["yes", clip.retake_command]
    assert copied["fallback"] == ["yes", still.retake_command]
    assert chromium.errors == []


@pytest.mark.browser
@browser
def test_sweep_grid_loads_in_chromium(tmp_path: Path, chromium: Chromium) -> None:
    """A 2×2 sweep grid of images renders in Chromium with every picture decoded."""
    takes = [
        make_take(
            f"s{seed}c{cfg}",
            files=[png(tmp_path / "out" / f"s{seed}c{cfg}.png", (40 + seed, 30 + cfg))],
            cell={"seed": str(seed), "cfg": str(cfg)},
            created=seed * 10 + cfg,
        )
        for seed in (1, 2)
        for cfg in (5, 7)
    ]
    page = write_review(takes, tmp_path / "grid.html", title="sweep", varied=["seed", "cfg"])
    session = chromium.open_page(page.as_uri())
    media = chromium.evaluate(session, MEDIA_CHECK)
    assert media["widths"] == [41, 41, 42, 42]
    assert chromium.evaluate(session, "document.querySelectorAll('table.grid td').length") == 4
    assert chromium.errors == []


@pytest.mark.browser
@browser
def test_chromium_check_catches_console_errors(tmp_path: Path, chromium: Chromium) -> None:
    """The checker reports a missing file, a console.error and an uncaught exception."""
    page = tmp_path / "broken.html"
    page.write_text(
        '<!doctype html><video src="missing.mp4" preload="metadata"></video>'
        "<script>console.error('deliberate'); setTimeout(() => { throw new Error('late'); });"
        "</script>"
    )
    session = chromium.open_page(page.as_uri())
    media = chromium.evaluate(session, MEDIA_CHECK)
    assert media["durations"] == [-1]
    text = "\n".join(chromium.errors)
    assert "missing.mp4" in text
    assert "deliberate" in text
    assert "Error: late" in text
