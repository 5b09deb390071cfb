"""Warm start (comfycine.warm): a call run by the warm server is the call run in place.

Each test starts a real server (``python -P -m comfycine.warm.server``) on a socket in
a short private folder, runs real ``comfycine`` processes against it, and stops it.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from comfycine import warm
from comfycine.envnames import ENV_DOTENV
from comfycine.templates import load_template, template_dirs
from comfycine.warm.server import loaded_files, unchanged
from tests.cli_support import Isolation
from tests.fakecomfy.server import FakeComfy

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="no warm start on Windows")

CALL_TIMEOUT = 60
# Runs ``comfycine ARGV`` as the console script does, and writes whether it ran warm.
WARM_PROBE = """\
import sys
from comfycine.warm.client import run_warm
code = run_warm(sys.argv[2:])
with open(sys.argv[1], "w") as handle:
    handle.write("cold" if code is None else "warm")
if code is None:
    from comfycine.cli.main import run
    code = run(sys.argv[2:])
sys.exit(code)
"""


def bounded_wait(condition: object, timeout: float = CALL_TIMEOUT) -> None:
    """Wait until ``condition()`` holds, failing after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            pytest.fail("timed out")
        time.sleep(0.05)


class Warm:
    """A started warm server and a way to run comfycine warm or cold against it."""

    def __init__(self, folder: Path, probe: Path) -> None:
        self.folder, self.probe = folder, probe
        os.environ["COMFYCINE_WARM"] = "on"
        os.environ["TMPDIR"] = str(folder)
        os.environ.pop("XDG_RUNTIME_DIR", None)
        path = warm.socket_path(os.environ)
        assert path is not None and path.startswith(str(folder))
        self.path = path

    def start(self, idle: float = 120) -> int:
        """Start the server and wait until it accepts calls; its pid."""
        subprocess.Popen(
            [sys.executable, "-P", "-m", "comfycine.warm.server", self.path, "--idle", str(idle)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        bounded_wait(lambda: warm.server_pid(self.path) is not None and _accepts(self.path))
        pid = warm.server_pid(self.path)
        assert pid is not None
        return pid

    def run(self, *argv: str, warm_on: bool = True, **kwargs: object) -> subprocess.Popen[str]:
        """Start ``comfycine ARGV`` (through the probe), warm or in place."""
        env = dict(os.environ, COMFYCINE_WARM="on" if warm_on else "off")
        return subprocess.Popen(
            [sys.executable, "-c", WARM_PROBE, str(self.probe), *argv],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            **kwargs,  # type: ignore[arg-type]
        )

    def call(self, *argv: str, warm_on: bool = True, **kwargs: object) -> tuple[int, str, str]:
        """``comfycine ARGV`` to its end: exit code, stdout, stderr."""
        process = self.run(*argv, warm_on=warm_on, **kwargs)
        out, err = process.communicate(timeout=CALL_TIMEOUT)
        return process.returncode, out, err

    def ran(self) -> str:
        """How the last call ran: ``warm`` or ``cold``."""
        return self.probe.read_text()


def _accepts(path: str) -> bool:
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(path)
        return True
    except OSError:
        return False
    finally:
        probe.close()


def children_of(pid: int) -> list[int]:
    """The live child processes of ``pid`` (Linux /proc, else ps)."""
    listing = Path(f"/proc/{pid}/task/{pid}/children")
    if listing.exists():
        return [int(p) for p in listing.read_text().split()]
    done = subprocess.run(["ps", "-A", "-o", "pid=,ppid="], capture_output=True, text=True)
    pairs = (line.split() for line in done.stdout.splitlines())
    return [int(child) for child, parent in pairs if int(parent) == pid]


@pytest.fixture
def warm_server(
    isolation: Isolation, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Warm]:
    """Warm start switched on, its socket in a short private folder; stopped after."""
    folder = Path(tempfile.mkdtemp(prefix="cw", dir="/tmp"))
    for name in ("COMFYCINE_WARM", "TMPDIR", "XDG_RUNTIME_DIR"):
        monkeypatch.setenv(name, os.environ.get(name, ""))  # restored after the test
    state = Warm(folder, tmp_path / "ran.txt")
    try:
        yield state
    finally:
        warm.stop_server(state.path)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.parametrize(
    "argv",
    [
        ["status", "--json", "FINISHED"],
        ["status", "FINISHED"],
        ["status", "nosuchjob"],
        ["status", "--frobnicate"],
        ["workflow", "show", "testpattern"],
        ["workflow", "show", "testpattern", "--json"],
        ["wait", "FINISHED", "--json"],
        ["version", "--json"],
        ["--help"],
        ["generate", "--help"],
        [],
    ],
    ids=" ".join,
)
def test_a_warm_call_prints_what_a_call_in_place_prints(
    argv: list[str], warm_server: Warm, finished_job: str
) -> None:
    """Same stdout, stderr and exit code warm as in place, errors included."""
    argv = [finished_job if a == "FINISHED" else a for a in argv]
    warm_server.start()
    warm_result = warm_server.call(*argv)
    assert warm_server.ran() == "warm"
    cold_result = warm_server.call(*argv, warm_on=False)
    assert warm_server.ran() == "cold"
    assert warm_result == cold_result


def test_the_call_keeps_its_folder_and_environment(
    warm_server: Warm, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A template by relative path in the caller's folder, dirs from the caller's variables."""
    warm_server.start()  # before the variable is set: the server does not have it
    shots = tmp_path / "shots"
    (shots / "workflows").mkdir(parents=True)
    pattern = load_template("testpattern", template_dirs(None)).path
    shutil.copy(pattern, shots / "mine.json")
    shutil.copy(pattern, shots / "workflows" / "theirs.json")
    monkeypatch.setenv("COMFYCINE_WORKFLOW_DIR", str(shots / "workflows"))
    code, out, err = warm_server.call("workflow", "show", "./mine.json", "--json", cwd=shots)
    assert (warm_server.ran(), code) == ("warm", 0), err  # found from the caller's folder
    code, out, err = warm_server.call("workflow", "show", "theirs", "--json")
    assert (warm_server.ran(), code) == ("warm", 0), err
    assert str(shots / "workflows" / "theirs.json") in out


def test_ctrl_c_reaches_the_command(warm_server: Warm, fake_comfy: FakeComfy) -> None:
    """SIGINT to the caller stops the warm command as in place: exit 130, the job named."""
    os.environ["COMFYUI_URL"] = fake_comfy.url
    server = warm_server.start()
    fake_comfy.pause()  # the job stays queued: generate waits
    process = warm_server.run("generate", "testimage")
    bounded_wait(lambda: fake_comfy.queue_remaining == 1)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=CALL_TIMEOUT)
    assert warm_server.ran() == "warm"
    assert process.returncode == 130
    assert "Stopped following job" in err  # as on Ctrl-C in place: the job goes on
    bounded_wait(lambda: children_of(server) == [])


def test_a_killed_caller_interrupts_its_command(warm_server: Warm, fake_comfy: FakeComfy) -> None:
    """SIGKILL to the caller (an agent's timeout): the command is interrupted, not left."""
    os.environ["COMFYUI_URL"] = fake_comfy.url
    server = warm_server.start()
    fake_comfy.pause()
    process = warm_server.run("generate", "testimage")
    bounded_wait(lambda: fake_comfy.queue_remaining == 1)
    assert len(children_of(server)) == 1
    process.kill()
    process.communicate(timeout=CALL_TIMEOUT)
    bounded_wait(lambda: children_of(server) == [])


# A caller that hands a command over, prints the child's answer, and leaves without its go.
NO_GO = """\
import marshal, os, socket, sys
from comfycine.warm import client, socket_path
link = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
link.settimeout(60)
link.connect(socket_path(os.environ))
socket.send_fds(link, [b"C"], [0, 1, 2])
payload = marshal.dumps(client.request(sys.argv[1:]))
link.sendall(len(payload).to_bytes(4, "big") + payload)
print(client.Lines(link).next().decode())
"""


def test_a_call_that_never_says_go_runs_nothing(
    warm_server: Warm, fake_comfy: FakeComfy, isolation: Isolation
) -> None:
    """The child waits for the caller's go: without it nothing is sent or recorded."""
    os.environ["COMFYUI_URL"] = fake_comfy.url
    server = warm_server.start()
    done = subprocess.run(
        [sys.executable, "-c", NO_GO, "generate", "testimage", "--detach"],
        capture_output=True,
        text=True,
        timeout=CALL_TIMEOUT,
    )
    assert done.stdout.startswith("P"), done.stdout + done.stderr  # the child's pid: ready
    bounded_wait(lambda: children_of(server) == [])
    assert fake_comfy.prompts_received == []
    assert not (isolation.data_dir / "ledger.sqlite3").exists()


def test_switched_off_or_no_server_runs_in_place(warm_server: Warm, finished_job: str) -> None:
    """COMFYCINE_WARM=off never goes warm; on, the first call runs in place and starts one."""
    code, _, _ = warm_server.call("status", finished_job, warm_on=False)
    assert (code, warm_server.ran()) == (0, "cold")
    assert warm.server_pid(warm_server.path) is None  # off: nothing started
    code, _, _ = warm_server.call("status", finished_job)
    assert (code, warm_server.ran()) == (0, "cold")
    bounded_wait(lambda: warm.server_pid(warm_server.path) is not None)
    bounded_wait(lambda: _accepts(warm_server.path))
    code, _, _ = warm_server.call("status", finished_job)
    assert (code, warm_server.ran()) == (0, "warm")


def test_other_commands_always_run_in_place(warm_server: Warm) -> None:
    """watch, server, batch, doctor…: not warm commands (the root help is)."""
    env = {"COMFYCINE_WARM": "on"}
    for argv in (["watch"], ["server", "status"], ["batch", "x"], ["doctor"], ["--json"]):
        assert not warm.warm_wanted(argv, env)
    for argv in (["status"], ["generate", "--help"], [], ["--help"], ["-h"]):
        assert warm.warm_wanted(argv, env)
    assert not warm.warm_wanted(["status"], {"COMFYCINE_WARM": "off"})


def test_the_setting_is_read_from_the_dotenv_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """COMFYCINE_WARM=off in the .env the settings read switches it off; the environment wins."""
    monkeypatch.chdir(tmp_path)
    dotenv = tmp_path / "my.env"
    dotenv.write_text("# local\nCOMFYCINE_WARM=off\n")
    assert not warm.warm_wanted(["status"], {ENV_DOTENV: str(dotenv)})
    assert warm.warm_wanted(["status"], {ENV_DOTENV: str(dotenv), "COMFYCINE_WARM": "on"})
    assert warm.warm_wanted(["status"], {ENV_DOTENV: str(tmp_path / "none.env")})
    assert warm.ENV_DOTENV == ENV_DOTENV
    config = tmp_path / "config"
    (config / "comfycine").mkdir(parents=True)
    (config / "comfycine" / ".env").write_text("COMFYCINE_WARM=off\n")
    assert not warm.warm_wanted(["status"], {"XDG_CONFIG_HOME": str(config)})  # no ./.env here


def test_a_folder_others_can_enter_is_not_used(tmp_path: Path) -> None:
    """The socket folder must be the user's alone: else no socket (the call runs in place)."""
    base = Path(tempfile.mkdtemp(prefix="cw", dir="/tmp"))
    try:
        folder = base / f"comfycine-{os.getuid()}"
        folder.mkdir(mode=0o755)
        folder.chmod(0o755)
        env = {"TMPDIR": str(base)}
        assert not str(warm.socket_path(env)).startswith(str(base))  # /tmp's, or none
        folder.chmod(0o700)
        assert str(warm.socket_path(env)).startswith(str(folder))
    finally:
        shutil.rmtree(base, ignore_errors=True)


STRICT_PYTHON = [sys.executable, "-W", "error::DeprecationWarning"]


def test_another_interpreter_setting_runs_in_place(
    warm_server: Warm, finished_job: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A caller started with -W, or with a variable read at import, runs in place."""
    warm_server.start()
    env = dict(os.environ, COMFYCINE_WARM="on")
    done = subprocess.run(
        [*STRICT_PYTHON, "-c", WARM_PROBE, str(warm_server.probe), "status", finished_job],
        env=env,
        capture_output=True,
        text=True,
        timeout=CALL_TIMEOUT,
    )
    assert done.returncode == 0, done.stderr
    assert warm_server.ran() == "cold"
    monkeypatch.setenv("TYPER_USE_RICH", "0")
    code, _, err = warm_server.call("status", finished_job)
    assert (code, warm_server.ran()) == (0, "cold"), err  # read by Typer when imported


def test_one_server_per_socket_and_it_goes_when_idle(warm_server: Warm) -> None:
    """A second server exits at once; an idle server exits and removes its socket."""
    first = warm_server.start(idle=3)
    second = subprocess.run(
        [sys.executable, "-P", "-m", "comfycine.warm.server", warm_server.path, "--idle", "60"],
        timeout=CALL_TIMEOUT,
    )
    assert second.returncode == 0
    assert warm.server_pid(warm_server.path) == first
    bounded_wait(lambda: warm.server_pid(warm_server.path) is None)
    assert not Path(warm_server.path).exists()


def test_a_changed_file_means_old_code(tmp_path: Path) -> None:
    """The server's check sees an edited or removed file."""
    module = tmp_path / "mod.py"
    module.write_text("x = 1\n")
    files = {str(module): (module.stat().st_mtime_ns, module.stat().st_size)}
    assert unchanged(files)
    module.write_text("x = 22\n")
    assert not unchanged(files)
    module.unlink()
    assert not unchanged(files)
    assert any(path.endswith("comfycine/warm/server.py") for path in loaded_files())


def test_a_server_of_old_code_declines_and_the_call_runs_in_place(
    warm_server: Warm, finished_job: str, tmp_path: Path
) -> None:
    """A server whose files changed closes the call unanswered: it runs in place, once."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(warm_server.path)
    listener.listen(1)
    try:
        process = warm_server.run("status", finished_job, "--json")
        link, _ = listener.accept()
        link.close()  # what a server of old code does
        out, err = process.communicate(timeout=CALL_TIMEOUT)
    finally:
        listener.close()
    assert process.returncode == 0, err
    assert warm_server.ran() == "cold"
    assert finished_job in out


# What the console entry may load before handing a call over (built-in modules only).
HAND_OVER_MODULES = {
    "comfycine", "comfycine.cli", "comfycine.cli.main", "comfycine.warm",
    "comfycine.warm.client", "__future__", "_socket", "_struct", "_signal", "_locale",
    "marshal", "zlib", "_stat",
}  # fmt: skip
HAND_OVER = """\
import sys
before = set(sys.modules)
import comfycine.cli.main
from comfycine.warm import client, socket_path, warm_wanted
import os
assert warm_wanted(["status"], os.environ)
client.request(["status"])
socket_path(os.environ)
with open(sys.argv[1], "w") as handle:
    handle.write("\\n".join(sorted(set(sys.modules) - before)))
"""


def test_the_hand_over_loads_only_builtin_modules(tmp_path: Path, isolation: Isolation) -> None:
    """No typing, json, re, socket or library module before a call is handed over."""
    written = tmp_path / "modules.txt"
    done = subprocess.run(
        [sys.executable, "-c", HAND_OVER, str(written)],
        env=dict(os.environ, COMFYCINE_WARM="on"),
        capture_output=True,
        text=True,
        timeout=CALL_TIMEOUT,
    )
    assert done.returncode == 0, done.stderr
    loaded = set(written.read_text().split())
    assert loaded <= HAND_OVER_MODULES, loaded - HAND_OVER_MODULES


def test_doctor_says_whether_calls_start_warm(warm_server: Warm) -> None:
    """The warm rung: off, on without a server, on with its pid; never a failure."""
    from comfycine.doctor.warm import check_warm

    assert check_warm({**os.environ, "COMFYCINE_WARM": "off"}).status == "skip"
    idle = check_warm()
    assert (idle.status, idle.details["pid"]) == ("ok", None)
    pid = warm_server.start()
    running = check_warm()
    assert (running.status, running.details["pid"]) == ("ok", pid)
    assert str(pid) in running.value


EXIT_HANDLERS = """\
import atexit, os, sys
from comfycine.warm.server import _exit_as_a_process_does
atexit.register(lambda: open(sys.argv[1], "w").write("cleaned"))
print("buffered", end="")
_exit_as_a_process_does()
os._exit(0)
"""


def test_a_child_runs_the_exit_handlers_before_it_ends(tmp_path: Path) -> None:
    """Exit handlers (temporary folders, finalizers) run and output is flushed despite _exit."""
    marker = tmp_path / "cleaned.txt"
    done = subprocess.run(
        [sys.executable, "-c", EXIT_HANDLERS, str(marker)],
        capture_output=True,
        text=True,
        timeout=CALL_TIMEOUT,
    )
    assert (done.returncode, done.stdout) == (0, "buffered")
    assert marker.read_text() == "cleaned"


def test_a_child_lost_after_the_go_is_reported_as_an_error(warm_server: Warm) -> None:
    """A child that dies without its code: exit 1, the envelope's warm_process_lost, no rerun."""
    import json
    import threading

    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(warm_server.path)
    listener.listen(1)
    went: list[bytes] = []

    def a_child_that_dies() -> None:
        link, _ = listener.accept()
        for fd in socket.recv_fds(link, 1, 3)[1]:
            os.close(fd)  # the caller's pipes: held here, its reader would never see the end
        size = int.from_bytes(link.recv(4), "big")
        while size > 0:
            size -= len(link.recv(size))
        link.sendall(b"P%d\n" % os.getpid())
        went.append(link.recv(1))
        link.close()  # dies before its exit code

    thread = threading.Thread(target=a_child_that_dies, daemon=True)
    thread.start()
    try:
        code, out, err = warm_server.call("status", "--json")
    finally:
        thread.join(timeout=CALL_TIMEOUT)
        listener.close()
    assert went == [b"G"]
    assert warm_server.ran() == "warm"  # not run again in place: it may have run
    assert code == 1, err
    envelope = json.loads(out)
    assert envelope["error"]["code"] == "warm_process_lost"
    assert "COMFYCINE_WARM=off" in envelope["error"]["hint"]


def test_calls_at_once_each_get_their_own_answer(warm_server: Warm, finished_job: str) -> None:
    """Eight calls at the same moment: eight children, each output its own caller's."""
    warm_server.start()
    calls = [
        warm_server.run("status", "--json", finished_job if n % 2 else "nosuchjob")
        for n in range(8)
    ]
    results = [(c.communicate(timeout=CALL_TIMEOUT), c.returncode) for c in calls]
    for n, ((out, err), code) in enumerate(results):
        if n % 2:
            assert code == 0 and finished_job in out, err
        else:
            assert code != 0 and '"ok": false' in out, out


def test_the_dotenv_looked_at_is_the_one_the_settings_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """warm's .env lookup (kept free of pathlib) is settings.find_dotenv's, in every layout."""
    from comfycine.settings import find_dotenv
    from comfycine.warm import _dotenv_file

    project, config = tmp_path / "project", tmp_path / "config"
    (config / "comfycine").mkdir(parents=True)
    project.mkdir()
    monkeypatch.chdir(project)
    env = {"XDG_CONFIG_HOME": str(config), "HOME": str(tmp_path)}
    layouts = [
        ({}, []),
        ({}, [config / "comfycine" / ".env"]),
        ({}, [project / ".env", config / "comfycine" / ".env"]),
        ({ENV_DOTENV: str(tmp_path / "chosen.env")}, [project / ".env"]),
    ]
    for extra, files in layouts:
        for path in (project / ".env", config / "comfycine" / ".env"):
            path.unlink(missing_ok=True)
        for path in files:
            path.write_text("COMFYCINE_WARM=off\n")
        found = _dotenv_file({**env, **extra})
        expected = find_dotenv({**env, **extra}, cwd=project)
        assert (Path(found).resolve() if found else None) == (
            expected.resolve() if expected else None
        ), (extra, files)
