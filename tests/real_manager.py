"""A real ComfyUI-Manager in a second real ComfyUI, for tests marked ``real``: ``real_manager``.

Manager is the ``comfyui-manager`` package from PyPI (pinned below), installed into the
cached venv of the real ComfyUI (tests/real_server.py) with every package already there
pinned, so torch and the rest are never touched.

How Manager is enabled. Newer ComfyUI has ``--enable-manager`` (and
``--enable-manager-legacy-ui``, ``--disable-manager-ui``): main.py imports the pip package
``comfyui_manager``, calls ``comfyui_manager.prestartup()`` right after
``apply_custom_paths()`` and before the custom nodes' prestartup scripts, skips any
git-cloned Manager in custom_nodes (``should_be_disabled``), calls
``comfyui_manager.start()`` right after creating the PromptServer and before loading
custom nodes (it registers its routes on ``PromptServer.instance.routes``), and server.py
adds ``comfyui_manager.create_middleware()``. ComfyUI 0.3.75 has no such flag, but it runs
custom nodes' ``prestartup_script.py`` at the first point and their ``__init__.py`` just
after the second, so a loader node (LOADER_PRESTARTUP, LOADER_INIT) does the same there:
it sets ``args.enable_manager`` (and the legacy-UI flag from ENV_LEGACY_UI) and calls
those functions. The loader is not a git repo, so Manager does not list it as a pack.

Restarts. Manager's reboot route re-executes the same process (``os.execv`` with
``sys.argv``) unless ``__COMFY_CLI_SESSION__`` is set, in which case it exits 0 for
comfy-cli's supervising loop. The harness never sets it: the same pid comes back and binds
the port again (Python sockets are closed on exec). The loader appends a line to
STARTS_LOG at every start, which is how a restart is seen.

Settings (config.ini, DEFAULT_CONFIG): ``security_level = normal``, Manager's default,
which with ComfyUI listening on 127.0.0.1 allows installing models from any URL and git
packs not in the registry (risk "middle+": loopback listener or personal_cloud needed)
and the reboot ("middle"). ``network_mode = offline``: no channel or registry fetches;
the DB comes from the cache files written by tests/manager_sources.py. Proxies point at
a closed loopback port for anything that would still try, ``NO_PROXY`` is 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from comfycine.localserver import ServerInstall, build_server
from comfycine.localserver.process import pick_free_port

from . import real_server
from .manager_install import MANAGER_VERSION, ManagerInstall, ensure_manager
from .manager_process import (
    DEFAULT_CONFIG,
    ENV_LEGACY_UI,
    ManagerServer,
    config_path,
    prepare_manager_base,
    start_manager_server,
    starts,
    stop_manager_server,
    wait_started,
    write_config,
)
from .manager_sources import (
    FakeModel,
    LoopbackFiles,
    ManagerDB,
    PackRepo,
    build_pack,
    write_model,
)
from .real_server import BUILD_LIMIT, real_cache_dir

__all__ = [
    "DEFAULT_CONFIG",
    "ENV_LEGACY_UI",
    "MANAGER_VERSION",
    "RealManager",
    "manager_session",
    "pytest_collection_finish",
    "real_manager",
]

TEST_PACK_ID = "comfycine-test-pack"
TEST_NODE_CLASS = "ComfycineTestNode"
TEST_MODEL_FILE = "comfycine-fake-model.safetensors"
# ~20 s on two busy cores; generous because other sessions share the machine.
START_TIMEOUT = 180.0
_PREPARED: tuple[ServerInstall, ManagerInstall] | Exception | None = None


def _report(line: str) -> None:
    # Past pytest's capture: installing Manager the first time takes a while.
    stream = sys.__stderr__ or sys.stderr
    print(f"[real-manager] {line}", file=stream, flush=True)


@dataclass
class RealManager:
    """A running ComfyUI 0.3.75 with ComfyUI-Manager, what it installs from, and helpers.

    ``pack`` is a one-node pack (``ComfycineTestNode``) in a git repository on loopback,
    listed in Manager's channel DB under its id; ``model`` a small ``.safetensors`` file on
    loopback, listed in Manager's model list; ``missing_model_url`` answers 404.
    """

    server: ManagerServer
    install: ServerInstall
    manager: ManagerInstall
    files: LoopbackFiles
    db: ManagerDB
    pack: PackRepo
    model: FakeModel
    legacy_ui: bool = False
    enabled: bool = True
    listen: str = "127.0.0.1"

    @property
    def url(self) -> str:
        """The server's base URL (``http://127.0.0.1:PORT``)."""
        return self.server.url

    @property
    def port(self) -> int:
        """The server's loopback port (kept across restarts)."""
        return self.server.port

    @property
    def base_dir(self) -> Path:
        """Its --base-directory: custom_nodes, models, user (Manager's files), server.log."""
        return self.server.base_dir

    @property
    def version(self) -> str:
        """The comfyui-manager version installed from PyPI."""
        return self.manager.version

    @property
    def config_path(self) -> Path:
        """Manager's config.ini (read at startup: change it, then ``restart``)."""
        return config_path(self.base_dir)

    @property
    def missing_model_url(self) -> str:
        """A loopback URL that answers 404."""
        return self.files.url("no-such-model.safetensors")

    @property
    def restart_count(self) -> int:
        """How many times the server came back since the session started it."""
        return starts(self.base_dir) - 1

    def wait_restarted(self, previous: int, timeout: float = START_TIMEOUT) -> None:
        """Wait until ``restart_count`` exceeds ``previous`` and the server answers."""
        wait_started(self.server, previous + 2, timeout)

    def reboot(self, timeout: float = START_TIMEOUT) -> None:
        """Restart through Manager's reboot route and wait until the server is back.

        The route re-executes the process before answering: the request gets no response.
        """
        previous = self.restart_count
        with contextlib.suppress(httpx.RemoteProtocolError, httpx.ReadError):
            httpx.post(f"{self.url}/v2/manager/reboot", timeout=30.0)
        self.wait_restarted(previous, timeout)

    def restart(
        self,
        *,
        config: dict[str, str] | None = None,
        legacy_ui: bool | None = None,
        enabled: bool | None = None,
        listen: str | None = None,
    ) -> None:
        """Stop the process and start it again on the same port, optionally changed.

        ``config`` rewrites config.ini (DEFAULT_CONFIG plus these values); ``legacy_ui``
        switches to the legacy UI's routes; ``enabled=False`` starts ComfyUI without
        Manager, as a PC without it; ``listen="localhost"`` makes Manager see a non-local
        listener (a PC reached over the network) while only loopback is bound.
        """
        stop_manager_server(self.server)
        if config is not None:
            write_config(self.base_dir, config)
        if legacy_ui is not None:
            self.legacy_ui = legacy_ui
        if enabled is not None:
            self.enabled = enabled
        if listen is not None:
            self.listen = listen
        self.server = start_manager_server(
            self.install,
            self.base_dir,
            self.port,
            self.manager.constraints,
            legacy_ui=self.legacy_ui,
            enabled=self.enabled,
            listen=self.listen,
            timeout=START_TIMEOUT,
        )

    def add_pack(self, pack_id: str, node_class: str) -> PackRepo:
        """Another one-node pack, added to Manager's DB (no restart needed)."""
        pack = build_pack(self.files, pack_id, node_class)
        self.db.packs.append(pack)
        self.db.write(self._cache_dir)
        return pack

    def add_model(self, filename: str, size: int = 4096, *, listed: bool = True) -> FakeModel:
        """Another fake model file; ``listed`` adds it to Manager's model list too."""
        model = write_model(self.files, filename, size)
        if listed:
            self.db.models.append(model)
            self.db.write(self._cache_dir)
        return model

    @property
    def _cache_dir(self) -> Path:
        return self.base_dir / "user" / "__manager" / "cache"


def prepare_install(log: Callable[[str], None] = _report) -> tuple[ServerInstall, ManagerInstall]:
    """The built real ComfyUI (built if needed) with Manager installed into its venv."""
    install = build_server(real_cache_dir(), log=log)
    return install, ensure_manager(install, log)


@contextlib.contextmanager
def manager_session(
    root: Path,
    prepared: tuple[ServerInstall, ManagerInstall] | None = None,
    *,
    legacy_ui: bool = False,
    config: dict[str, str] | None = None,
) -> Iterator[RealManager]:
    """A ComfyUI with Manager in ``root`` (base dir, served files), stopped on exit."""
    install, manager = prepared or prepare_install()
    files = LoopbackFiles(root / "served")
    try:
        pack = build_pack(files, TEST_PACK_ID, TEST_NODE_CLASS)
        model = write_model(files, TEST_MODEL_FILE)
        db = ManagerDB(manager.bundled_dir, [pack], [model])
        base_dir = (root / "base").resolve()
        prepare_manager_base(base_dir, config or {})
        db.write(base_dir / "user" / "__manager" / "cache")
        server = start_manager_server(
            install,
            base_dir,
            pick_free_port(),
            manager.constraints,
            legacy_ui=legacy_ui,
            timeout=START_TIMEOUT,
        )
        session = RealManager(server, install, manager, files, db, pack, model, legacy_ui)
        try:
            yield session
        finally:
            stop_manager_server(session.server)
    finally:
        files.close()


def _needs_manager(item: pytest.Item) -> bool:
    return "real_manager" in getattr(item, "fixturenames", ())


def pytest_collection_finish(session: pytest.Session) -> None:
    """Build the real ComfyUI and install Manager before the first test that needs them.

    Chains real_server's hook (the ComfyUI build for ``real_comfyui``), then does the same
    for ``real_manager`` with the same large limit, outside any test's own time limit.
    """
    global _PREPARED
    real_server.pytest_collection_finish(session)
    if session.config.option.collectonly or not any(map(_needs_manager, session.items)):
        return
    try:
        with real_server._time_limit(BUILD_LIMIT, "installing ComfyUI-Manager"):
            _PREPARED = prepare_install()
    except Exception as exc:
        _PREPARED = exc


@pytest.fixture(scope="session")
def real_manager(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealManager]:
    """A real ComfyUI with the real ComfyUI-Manager, on a free loopback port, for a session."""
    if isinstance(_PREPARED, Exception):
        raise _PREPARED
    with manager_session(tmp_path_factory.mktemp("real-manager"), _PREPARED) as manager:
        _report(f"ComfyUI with comfyui-manager {manager.version} at {manager.url}")
        yield manager
