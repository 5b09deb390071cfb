"""Configuration that cannot break everything: URL passwords used but never shown,
unusable URLs and undecodable .env files refused in one line (exit 2), doctor still runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli_support import CliResult, Isolation, files_under, invoke
from tests.fakecomfy.server import FakeComfy
from tests.faketelegram.server import FakeTelegram
from tests.ports import closed_port

TEMPLATE = "testimage"
USER = "film"
PASSWORD = "hunter2-sentinel-pw"


def with_password(url: str, password: str = PASSWORD) -> str:
    """``url`` with ``film:PASSWORD@`` put in."""
    return url.replace("http://", f"http://{USER}:{password}@", 1)


@pytest.fixture
def cache(isolation: Isolation, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private cache dir (node-list snapshots are saved there)."""
    path = isolation.root / "cache"
    monkeypatch.setenv("COMFYCINE_CACHE_DIR", str(path))
    return path


@pytest.fixture
def guarded(
    phone: FakeTelegram, fake_comfy: FakeComfy, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> FakeComfy:
    """The fake behind basic auth (as behind a reverse proxy), COMFYUI_URL with the password,
    and notifications going to the fake Telegram."""
    fake_comfy.basic_auth = f"{USER}:{PASSWORD}"
    monkeypatch.setenv("COMFYUI_URL", with_password(fake_comfy.url))
    return fake_comfy


def assert_never_shown(results: list[CliResult], *folders: Path) -> None:
    """The password is in no output and in no file under ``folders`` (ledger, cache)."""
    for result in results:
        assert PASSWORD not in result.stdout + result.stderr, result
    for folder in folders:
        for path in files_under(folder):
            assert PASSWORD.encode() not in path.read_bytes(), path


def test_password_url_is_used_and_never_shown(
    guarded: FakeComfy, isolation: Isolation, cache: Path, phone: FakeTelegram
) -> None:
    """Basic auth reaches the server (HTTP and socket); no output, ledger or snapshot
    holds the password: generate, status, wait, doctor, targets, debug, --debug, notify."""
    results = [invoke("generate", TEMPLATE, "--json"), invoke("generate", TEMPLATE)]
    assert results[0].exit_code == 0, results[0]
    assert results[1].exit_code == 0, results[1]
    assert guarded.ws_feature_flags, "the socket never opened: no basic auth on /ws?"
    job = results[0].envelope()["data"]["job"]
    guarded.oom_next()
    failed = invoke("generate", TEMPLATE, "--set", "width=128", "--debug", "--json")
    assert failed.exit_code == 5, failed
    results += [
        failed,
        invoke("status", "--json"),
        invoke("status", job, "--json"),
        invoke("wait", job, "--json"),
        invoke("doctor", "--json"),
        invoke("doctor"),
        invoke("targets", "--json"),
        invoke("targets"),
        invoke("debug", "last", "--json"),
        invoke("debug", "last", "--debug"),
        invoke("workflow", "validate", TEMPLATE, "--json"),
    ]
    for result in results[3:]:
        assert result.exit_code in (0, 5), result
    doctor = results[6].envelope()
    assert doctor["ok"], results[6]
    assert doctor["data"]["url"] == with_password(guarded.url, "***")
    targets = {row["name"]: row for row in results[8].envelope()["data"]["targets"]}
    assert targets["local"]["ok"] and targets["local"]["url"] == with_password(guarded.url, "***")
    assert files_under(cache), "no node-list snapshot was saved"
    assert {"sendPhoto", "sendMessage"} <= set(phone.methods())
    assert PASSWORD not in str([r.fields for r in phone.requests])
    assert_never_shown(results, isolation.data_dir, cache)


def test_wrong_password_is_refused_by_the_server_without_echo(
    guarded: FakeComfy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A wrong password: the server's 401 is an error that shows neither password."""
    monkeypatch.setenv("COMFYUI_URL", with_password(guarded.url, "wrong-sentinel-pw"))
    result = invoke("generate", TEMPLATE, "--json")
    assert result.exit_code != 0, result
    assert "401" in result.envelope()["error"]["message"]
    assert "wrong-sentinel-pw" not in result.stdout + result.stderr


def test_unreachable_password_url_is_masked_with_debug(
    isolation: Isolation, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Unreachable (exit 3), with --debug's traceback: the URL shows with *** only."""
    monkeypatch.setenv("COMFYUI_URL", with_password(f"http://127.0.0.1:{closed_port()}"))
    result = invoke("generate", TEMPLATE, "--debug", "--json")
    assert result.exit_code == 3, result
    assert "Traceback" in result.stderr
    assert_never_shown([result], isolation.data_dir)
    for words in (
        ["doctor"],
        ["targets"],
        ["generate", TEMPLATE, "--url", with_password("http://x")],
    ):
        assert_never_shown([invoke(*words, "--debug")])


def test_named_target_password_is_put_back_for_wait(
    guarded: FakeComfy, isolation: Isolation, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ledger keeps the URL without its password; wait finds it again in the target."""
    monkeypatch.setenv("COMFYUI_URL", f"http://127.0.0.1:{closed_port()}")
    monkeypatch.setenv("COMFYCINE_TARGETS", f"studio={with_password(guarded.url)}")
    submitted = invoke("generate", TEMPLATE, "--target", "studio", "--detach", "--json")
    assert submitted.exit_code == 0, submitted
    job = submitted.envelope()["data"]["job"]
    waited = invoke("wait", job, "--json")
    assert waited.exit_code == 0, waited
    assert waited.envelope()["data"]["status"] == "succeeded"
    assert_never_shown([submitted, waited], isolation.data_dir)


def test_url_flag_password_is_used_and_never_shown(
    guarded: FakeComfy, isolation: Isolation, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--url http://user:pw@host works like COMFYUI_URL and is masked the same."""
    monkeypatch.delenv("COMFYUI_URL")
    result = invoke("generate", TEMPLATE, "--url", with_password(guarded.url), "--json")
    assert result.exit_code == 0, result
    assert_never_shown([result], isolation.data_dir)


BAD_URLS = [
    ("http://film:hunter2-sentinel-pw@pc:99999", "port 99999"),
    ("http://film:hunter2-sentinel-pw@[::1:8188", "malformed IPv6"),
    ("http://film:hunter2-sentinel-pw@my pc:8188", "spaces"),
    ("http://", "no host"),
]


def assert_invalid_setting(result: CliResult, name: str, why: str) -> None:
    """Exit 2, code invalid_setting, one red line naming ``name`` and ``why``, no password."""
    assert result.exit_code == 2, result
    error = result.envelope()["error"]
    assert error["code"] == "invalid_setting", result
    assert name in error["message"] and why in error["message"], error
    assert result.stderr.startswith("error: ") and "\n" not in error["message"]
    assert "Unexpected" not in result.stderr and PASSWORD not in result.stdout + result.stderr


@pytest.mark.parametrize(("url", "why"), BAD_URLS)
@pytest.mark.parametrize(
    "words", [["generate", TEMPLATE], ["status"], ["targets"], ["doctor"], ["wait", "last"]]
)
def test_unusable_comfyui_url_is_a_usage_error(
    isolation: Isolation, monkeypatch: pytest.MonkeyPatch, words: list[str], url: str, why: str
) -> None:
    """COMFYUI_URL with a bad port, IPv6, spaces or no host: exit 2 everywhere, no crash."""
    monkeypatch.setenv("COMFYUI_URL", url)
    assert_invalid_setting(invoke(*words, "--json"), "COMFYUI_URL=", why)


@pytest.mark.parametrize(("url", "why"), BAD_URLS)
def test_unusable_url_in_other_settings_and_flags(
    isolation: Isolation, monkeypatch: pytest.MonkeyPatch, url: str, why: str
) -> None:
    """--url, COMFY_CLOUD_URL and a COMFYCINE_TARGETS entry: the same one-line exit 2."""
    assert_invalid_setting(invoke("generate", TEMPLATE, "--url", url, "--json"), "--url=", why)
    assert_invalid_setting(invoke("doctor", "--url", url, "--json"), "--url=", why)
    monkeypatch.setenv("COMFY_CLOUD_URL", url)
    assert_invalid_setting(invoke("targets", "--json"), "COMFY_CLOUD_URL=", why)
    monkeypatch.setenv("COMFY_CLOUD_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("COMFYCINE_TARGETS", f"studio={url}")
    assert_invalid_setting(invoke("targets", "--json"), "COMFYCINE_TARGETS", why)


LATIN1_DOTENV = b"# Einstellungen f\xfcr den PC\nCOMFYCINE_DEBUG=0\n"


@pytest.fixture
def latin1_dotenv(isolation: Isolation, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A ./.env saved as Latin-1 by a Windows editor (an accented comment on line 1).

    COMFYCINE_WORKFLOW_DIR is unset so that ``workflow list`` has to read the file too.
    """
    monkeypatch.delenv("COMFYCINE_WORKFLOW_DIR")
    path = isolation.root / ".env"
    path.write_bytes(LATIN1_DOTENV)
    return path


@pytest.mark.parametrize(
    "words", [["generate", TEMPLATE], ["workflow", "list"], ["status"], ["targets"]]
)
def test_dotenv_not_utf8_is_refused_naming_file_and_line(
    latin1_dotenv: Path, words: list[str]
) -> None:
    """A non-UTF-8 .env: exit 2, invalid_dotenv, FILE:LINE and the fix, no traceback."""
    result = invoke(*words, "--json")
    assert result.exit_code == 2, result
    error = result.envelope()["error"]
    assert error["code"] == "invalid_dotenv"
    assert error["message"].startswith(f"{latin1_dotenv.name}:1: ") or error["message"].startswith(
        f"{latin1_dotenv}:1: "
    )
    assert "UTF-8" in error["hint"] and "Unexpected" not in result.stderr


def test_doctor_runs_on_with_a_dotenv_not_utf8(
    latin1_dotenv: Path, fake_comfy: FakeComfy, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """doctor: the config rung fails with FILE:LINE and the fix; the others use the env."""
    monkeypatch.setenv("COMFYUI_URL", fake_comfy.url)
    result = invoke("doctor", "--json")
    assert result.exit_code == 2, result
    envelope = result.envelope()
    assert envelope["error"]["code"] == "invalid_dotenv"
    checks = {c["name"]: c for c in envelope["error"]["details"]["checks"]}
    assert checks["config"]["status"] == "fail"
    assert checks["config"]["value"].startswith(f"{latin1_dotenv}:1: ")
    assert "UTF-8" in checks["config"]["fix"]
    assert {checks[n]["status"] for n in ("tcp", "http", "websocket")} == {"ok"}
