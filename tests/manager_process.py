"""Start a real ComfyUI 0.3.75 with ComfyUI-Manager loaded, see it restart, stop it.

The loader node (LOADER_PRESTARTUP, LOADER_INIT) does what newer ComfyUI's main.py does
with ``--enable-manager`` (see tests/real_manager.py). Manager's settings live in
``BASE/user/__manager/config.ini``, read once at startup.
"""

from __future__ import annotations

import configparser
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from comfycine.localserver import ServerInstall
from comfycine.localserver.build import log_tail, prepare_base_dir
from comfycine.localserver.process import (
    RunningServer,
    answers,
    server_command,
    server_environment,
    terminate_server,
)

from .manager_sources import GIT_ENV
from .ports import closed_port

# Never with "comfyui-manager" in it: Manager skips such folders (a git-cloned Manager).
LOADER_DIR = "comfycine-manager-loader"
STARTS_LOG = "manager-starts.log"
ENV_LEGACY_UI = "COMFYCINE_TEST_MANAGER_LEGACY_UI"
# "1": the loader does nothing, as a ComfyUI without Manager (started without the flag).
ENV_DISABLED = "COMFYCINE_TEST_MANAGER_DISABLED"
POLL_SECONDS = 0.25
# What the tests run with: no fetches at all, and the default security level, which
# allows installing models and non-registry git packs when ComfyUI listens on loopback.
DEFAULT_CONFIG = {"network_mode": "offline", "security_level": "normal", "use_uv": "False"}

LOADER_PRESTARTUP = '''"""Load ComfyUI-Manager as newer ComfyUI's --enable-manager does (1 of 2)."""

import json
import os
import time

import folder_paths
from comfy.cli_args import args

with open(os.path.join(folder_paths.base_path, "{starts_log}"), "a") as starts:
    starts.write(json.dumps({{"pid": os.getpid(), "time": time.time()}}) + "\\n")

# Newer ComfyUI defines these flags; 0.3.75 does not, and Manager reads them.
args.enable_manager = os.environ.get("{disabled_env}") != "1"
args.enable_manager_legacy_ui = os.environ.get("{legacy_env}") == "1"
args.disable_manager_ui = False

if args.enable_manager:
    import comfyui_manager

    comfyui_manager.prestartup()
'''

LOADER_INIT = '''"""Load ComfyUI-Manager as newer ComfyUI's --enable-manager does (2 of 2)."""

from comfy.cli_args import args
from server import PromptServer

if args.enable_manager:
    import comfyui_manager

    comfyui_manager.start()
    # Newer server.py adds this middleware; aiohttp takes it until the app starts.
    PromptServer.instance.app.middlewares.append(comfyui_manager.create_middleware())

NODE_CLASS_MAPPINGS = {}
'''


@dataclass
class ManagerServer:
    """A ComfyUI process with Manager loaded (the same pid across Manager's reboots)."""

    url: str
    port: int
    base_dir: Path
    log_path: Path
    process: subprocess.Popen[bytes]

    def running(self) -> RunningServer:
        """The process as comfycine.localserver sees it (to stop it)."""
        return RunningServer(
            self.url, self.port, self.process.pid, self.log_path, self.base_dir, self.process
        )


def config_path(base_dir: Path) -> Path:
    """Manager's config.ini for a base dir (its "system user" folder ``__manager``)."""
    return base_dir / "user" / "__manager" / "config.ini"


def write_config(base_dir: Path, values: dict[str, str]) -> Path:
    """Write config.ini's [default] section: DEFAULT_CONFIG updated with ``values``."""
    parser = configparser.ConfigParser()
    parser["default"] = {**DEFAULT_CONFIG, **values}
    path = config_path(base_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        parser.write(handle)
    return path


def prepare_manager_base(base_dir: Path, config: dict[str, str]) -> None:
    """The folders ComfyUI expects, the loader node and Manager's config."""
    prepare_base_dir(base_dir)
    loader = base_dir / "custom_nodes" / LOADER_DIR
    loader.mkdir(parents=True, exist_ok=True)
    prestartup = LOADER_PRESTARTUP.format(
        legacy_env=ENV_LEGACY_UI, disabled_env=ENV_DISABLED, starts_log=STARTS_LOG
    )
    (loader / "prestartup_script.py").write_text(prestartup)
    (loader / "__init__.py").write_text(LOADER_INIT)
    write_config(base_dir, config)


def manager_environment(
    base: dict[str, str], constraints: Path, *, legacy_ui: bool, enabled: bool
) -> dict[str, str]:
    """The server's environment: loopback only, the venv pinned, Manager's reboot re-execs."""
    env = server_environment(base)
    env.pop("__COMFY_CLI_SESSION__", None)  # else reboot exits for comfy-cli's loop
    # Anything that still tries the internet goes to a closed loopback port and fails fast.
    guard = f"http://127.0.0.1:{closed_port()}"
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        env[name] = env[name.lower()] = guard
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1"
    env["PIP_CONSTRAINT"] = str(constraints)  # pip run by Manager cannot move torch & co
    env.update({k: v for k, v in GIT_ENV.items() if "CONFIG" in k or "PROMPT" in k})
    env[ENV_LEGACY_UI] = "1" if legacy_ui else "0"
    env[ENV_DISABLED] = "0" if enabled else "1"
    return env


def starts(base_dir: Path) -> int:
    """How many times the server has started in this base dir (the loader's log)."""
    try:
        return len((base_dir / STARTS_LOG).read_text().splitlines())
    except OSError:
        return 0


def start_manager_server(
    install: ServerInstall,
    base_dir: Path,
    port: int,
    constraints: Path,
    *,
    legacy_ui: bool,
    enabled: bool = True,
    listen: str = "127.0.0.1",
    timeout: float,
) -> ManagerServer:
    """Start ComfyUI with Manager on 127.0.0.1:``port``; wait until it answers (bounded).

    ``listen`` is ComfyUI's --listen: "localhost" still binds loopback only, but Manager
    (which checks for an IP literal) then applies its rules for a non-local listener, as
    on a PC reached over the LAN or Tailscale.
    """
    before = starts(base_dir)
    log_path = base_dir / "server.log"
    command = server_command(install, port, base_dir, None)
    command[command.index("--listen") + 1] = listen
    with open(log_path, "ab") as log_file:
        process = subprocess.Popen(
            command,
            cwd=install.comfy_dir,
            env=manager_environment(
                dict(os.environ), constraints, legacy_ui=legacy_ui, enabled=enabled
            ),
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: teardown signals all of it
        )
    server = ManagerServer(f"http://127.0.0.1:{port}", port, base_dir, log_path, process)
    try:
        wait_started(server, before + 1, timeout)
    except BaseException:
        stop_manager_server(server)
        raise
    return server


def wait_started(server: ManagerServer, count: int, timeout: float) -> None:
    """Wait until the server has started ``count`` times in all and answers (bounded)."""
    deadline = time.monotonic() + timeout
    while True:
        code = server.process.poll()
        if code is not None:
            problem = f"ComfyUI with Manager exited with code {code}"
            break
        if starts(server.base_dir) >= count and answers(server.url, timeout=2.0):
            return
        if time.monotonic() > deadline:
            problem = f"ComfyUI with Manager did not answer within {timeout:.0f} s"
            break
        time.sleep(POLL_SECONDS)
    raise RuntimeError(f"{problem}; log tail:\n{log_tail(server.log_path, 40)}")


def stop_manager_server(server: ManagerServer) -> None:
    """SIGTERM its process group, SIGKILL after a grace period (bounded)."""
    terminate_server(server.running(), grace=10.0)
