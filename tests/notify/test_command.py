"""The notify-command channel: argv, no shell, timeouts, failures as outcomes."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from comfycine.notify.command import command_argv, run_command


def arg_writer(folder: Path, name: str = "notify.sh", status: int = 0) -> tuple[Path, Path]:
    """A script that writes its arguments (one per line) to ``args.txt`` and exits."""
    folder.mkdir(parents=True, exist_ok=True)
    script, out = folder / name, folder / "args.txt"
    script.write_text(
        f"#!{sys.executable}\n"
        "import sys\n"
        f"open({str(out)!r}, 'w').write('\\n--\\n'.join(sys.argv[1:]))\n"
        "sys.stderr.write('first line\\nthe real reason\\n')\n"
        f"sys.exit({status})\n"
    )
    script.chmod(0o755)
    return script, out


async def test_message_is_the_single_argument(tmp_path: Path) -> None:
    """The script gets the whole message, shell characters and newlines intact, as argv[1]."""
    script, out = arg_writer(tmp_path)
    message = "✅ done $(touch pwned) `id` ; rm -rf x\nsecond line"
    outcome = await run_command(str(script), message)
    assert outcome == {"channel": "command", "ok": True, "detail": "notify.sh ran"}
    assert out.read_text() == message
    assert not (tmp_path / "pwned").exists()


async def test_path_with_spaces_and_tilde(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A command that is a file path under ~ with spaces in it is one word."""
    monkeypatch.setenv("HOME", str(tmp_path))
    _, out = arg_writer(tmp_path / "Application Support")
    outcome = await run_command("~/Application Support/notify.sh", "hi")
    assert outcome["ok"], outcome
    assert out.read_text() == "hi"


def test_command_with_words_is_split_without_a_shell() -> None:
    """A command with arguments is split like a shell would, the message appended last."""
    assert command_argv("notify-send -u low", "a b") == ["notify-send", "-u", "low", "a b"]


async def test_failing_command_is_an_outcome(tmp_path: Path) -> None:
    """A non-zero exit is a failed outcome with the status and stderr's last line."""
    script, _ = arg_writer(tmp_path, status=3)
    outcome = await run_command(str(script), "hi")
    assert outcome == {
        "channel": "command",
        "ok": False,
        "detail": "notify.sh exited with 3: the real reason",
    }


async def test_missing_command_is_an_outcome(tmp_path: Path) -> None:
    """A command that does not exist is a failed outcome, not an exception."""
    outcome = await run_command(str(tmp_path / "nope.sh"), "hi")
    assert not outcome["ok"]
    assert "cannot run" in outcome["detail"]


async def test_slow_command_is_killed(tmp_path: Path) -> None:
    """A command past its timeout is killed and reported."""
    script = tmp_path / "slow.sh"
    script.write_text(f"#!{sys.executable}\nimport time\ntime.sleep(30)\n")
    script.chmod(0o755)
    outcome = await run_command(str(script), "hi", timeout=0.2)
    assert outcome == {
        "channel": "command",
        "ok": False,
        "detail": "slow.sh took longer than 0.2 s",
    }


async def test_secrets_are_redacted_from_the_detail(tmp_path: Path) -> None:
    """A script echoing a secret on stderr does not bring it into the outcome."""
    script = tmp_path / "leaky.sh"
    script.write_text(
        f"#!{sys.executable}\nimport sys\nsys.stderr.write('key s3cr3t-value\\n')\nsys.exit(1)\n"
    )
    script.chmod(0o755)
    outcome = await run_command(str(script), "hi", secrets=("s3cr3t-value",))
    assert not outcome["ok"]
    assert "s3cr3t-value" not in outcome["detail"]
