"""The smaller input mistakes: a value given twice, an empty media file, a multi-line
server error, and hints that must read as separate sentences."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.cli_support import CliResult, Isolation, invoke
from tests.fakecomfy.hostile import HTML_502_BODY
from tests.fakecomfy.server import FakeComfy
from tests.ports import closed_port

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99"
    b"=\x1d\x00\x00\x00\x00IEND\xaeB`\x82"
)


@pytest.fixture
def fake(isolation: Isolation, fake_comfy: FakeComfy, monkeypatch: pytest.MonkeyPatch) -> FakeComfy:
    """An isolated CLI pointed at the fake server."""
    monkeypatch.setenv("COMFYUI_URL", fake_comfy.url)
    return fake_comfy


@pytest.fixture
def image(isolation: Isolation) -> Path:
    """A 1×1 PNG to upload."""
    path = isolation.root / "still.png"
    path.write_bytes(PNG)
    return path


def sent_nothing(fake: FakeComfy) -> bool:
    """Whether the fake received no upload and no prompt."""
    return not any(
        path in {"/prompt", "/upload/image"} for method, path in fake.requests if method == "POST"
    )


def no_job_recorded() -> bool:
    """Whether the ledger holds no job."""
    return invoke("status", "--json").envelope()["data"]["jobs"] == []


@pytest.mark.parametrize(
    ("args", "first", "second"),
    [
        (["--set", "width=128", "--set", "width=256"], "128", "256"),
        (["--set", "Width=128", "--set", "width=256"], "128", "256"),
        (["--width", "64", "--set", "width=256"], "64", "256"),
    ],
)
def test_value_given_twice_is_refused(
    fake: FakeComfy, args: list[str], first: str, second: str
) -> None:
    """--set twice, or a shortcut and --set: exit 2 naming both values, nothing sent."""
    result = invoke("generate", "testimage", *args, "--json")
    assert result.exit_code == 2, result
    error = result.envelope()["error"]
    assert error["code"] == "invalid_parameter"
    assert f"width is given twice, as '{first}' and as '{second}'" in error["message"]
    assert sent_nothing(fake) and no_job_recorded()


def test_same_value_twice_is_fine(fake: FakeComfy) -> None:
    """The very same value twice is not a contradiction: the job runs."""
    result = invoke("generate", "testimage", "--set", "width=64", "--width", "64", "--json")
    assert result.exit_code == 0, result


def test_batch_refuses_a_value_given_twice(fake: FakeComfy, image: Path) -> None:
    """batch --set twice: exit 2 before any item is sent."""
    folder = image.parent / "shots"
    folder.mkdir()
    image.rename(folder / image.name)
    result = invoke(
        "batch", str(folder), "testblur", "--set", "radius=2", "--set", "radius=3", "--json"
    )
    assert result.exit_code == 2, result
    assert "radius is given twice" in result.envelope()["error"]["message"]
    assert sent_nothing(fake)


def test_watch_refuses_a_value_given_twice(fake: FakeComfy, isolation: Isolation) -> None:
    """watch --set twice: exit 2 at start, not a failure per file."""
    result = invoke("watch", "--once", "--set", "radius=2", "--set", "radius=3", "--json")
    assert result.exit_code == 2, result
    assert "radius is given twice" in result.stdout.splitlines()[-1]
    assert sent_nothing(fake)


def test_empty_media_file_is_refused_before_upload(fake: FakeComfy, isolation: Isolation) -> None:
    """A 0-byte image: exit 2, media_empty naming the file; no upload, no job recorded."""
    empty = isolation.root / "export.png"
    empty.write_bytes(b"")
    result = invoke("generate", "testblur", "--image", str(empty), "--json")
    assert result.exit_code == 2, result
    error = result.envelope()["error"]
    assert error["code"] == "media_empty" and str(empty) in error["message"]
    assert sent_nothing(fake) and no_job_recorded()


def one_red_line(result: CliResult, code: int) -> dict[str, object]:
    """The error of a failed run after checking it is one line on stderr and in JSON."""
    assert result.exit_code == code, result
    error: dict[str, object] = result.envelope()["error"]
    assert "\n" not in str(error["message"]), error
    assert [line for line in result.stderr.splitlines() if line.startswith("error:")], result
    assert len(result.stderr.splitlines()) == 2, result  # the error and its hint
    return error


def test_traceback_answer_is_one_line_with_the_body_in_details(fake: FakeComfy) -> None:
    """A 500 whose body is a Python traceback: its last line shown, all of it in details."""
    fake.answer_error("/prompt", 500)
    error = one_red_line(invoke("generate", "testimage", "--json"), 4)
    assert "KeyError: 'outputs'" in str(error["message"])
    assert "Traceback (most recent call last)" not in str(error["message"])
    details = error["details"]
    assert isinstance(details, dict) and 'File "/ComfyUI/server.py"' in details["body"]


def test_proxy_error_page_is_one_line(fake: FakeComfy) -> None:
    """A proxy's multi-line HTML 502 page: its title on the line, the page in details."""
    fake.answer_error("/prompt", 502, HTML_502_BODY, "text/html")
    result = invoke("generate", "testimage", "--json")
    error = one_red_line(result, 4)
    assert "502 Bad Gateway" in str(error["message"]) and "<" not in str(error["message"])


def test_upload_refusal_is_one_line(fake: FakeComfy, image: Path) -> None:
    """A refused upload with a multi-line body: one line, the body in details."""
    fake.answer_error("/upload/image", 400, "Bad file.\n\n  Expected an image.\n")
    error = one_red_line(invoke("generate", "testblur", "--image", str(image), "--json"), 4)
    assert "Bad file. Expected an image." in str(error["message"])


# A sentence ending without its period before the next one ("retry Run"), or a period
# with no space after it ("retry.Run"): the verbs hints start their sentences with.
_VERBS = (
    "Run|Or|Check|Start|See|Set|Use|Retry|Resume|Add|Fix|Wait|Try|Install|Give|Follow|Then"
    "|To|Free|Drop|Create|Render|Save|List|Look|Update|Validate|Export|Lower|Collect"
    "|Download|Wake|Submit|Restart|Create"
)
RUN_ON = re.compile(rf"[a-z0-9)\]'\"`](?:\.(?=[A-Z])|\s+(?=(?:{_VERBS})\b))")


def assert_hint_reads_well(result: CliResult) -> str:
    """The run failed and its hint has no run-on sentence, no doubled period."""
    assert result.exit_code != 0, result
    hint = str(result.envelope()["error"]["hint"])
    assert hint and not RUN_ON.search(hint), hint
    assert ".." not in hint.replace("...", "") and ". ." not in hint, hint
    return hint


def test_hints_never_run_two_sentences_together(
    fake: FakeComfy, isolation: Isolation, image: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every cheaply reachable error: each hint's sentences end before the next begins."""
    missing = str(isolation.root / "missing.png")
    hints = [
        invoke("generate", "nosuch", "--json"),
        invoke("generate", "testimage", "--image", str(image), "--json"),
        invoke("generate", "testimage", "--set", "nope=1", "--json"),
        invoke("generate", "testblur", "--image", missing, "--json"),
        invoke("generate", "testimage", "--target", "cloud", "--json"),
        invoke("wait", "nosuchjob", "--json"),
        invoke("status", "nosuchjob", "--json"),
        invoke("debug", "nosuchjob", "--json"),
        invoke("cancel", "nosuchjob", "--json"),
    ]
    fake.oom_next()
    hints.append(invoke("generate", "testimage", "--set", "width=96", "--json"))
    fake.answer_error("/prompt", 500)
    hints.append(invoke("generate", "testimage", "--set", "width=80", "--json"))
    folder = isolation.root / "shots"
    folder.mkdir()
    (folder / "a.png").write_bytes(PNG)
    fake.oom_next()
    hints.append(invoke("batch", str(folder), "testblur", "--json"))
    monkeypatch.setenv("COMFYUI_URL", f"http://127.0.0.1:{closed_port()}")
    (folder / "b.png").write_bytes(PNG)
    hints += [
        invoke("generate", "testimage", "--json"),
        invoke("batch", str(folder), "testblur", "--json"),
        invoke("doctor", "--json"),
    ]
    seen = [assert_hint_reads_well(result) for result in hints]
    assert any("Comfy Cloud" in hint for hint in seen)  # the appended proposals were reached
