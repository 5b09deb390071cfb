"""What the real ComfyUI-Manager installs from in tests: loopback files, a git pack, its DB.

Nothing here leaves 127.0.0.1. ``LoopbackFiles`` serves a folder over HTTP from a thread
(models, and bare git repositories over git's "dumb" HTTP protocol, which needs nothing
but static files after ``git update-server-info``). ``build_pack`` writes a one-node
custom-node pack as such a repository. ``seed_manager_db`` writes Manager's channel
cache files, so its node list, node-to-pack map and model list name those packs and
models: with ``network_mode = offline`` (and always, for the pip package) Manager reads
its DB only from these cache files or from the copies bundled in the package.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

GIT_TIMEOUT = 60.0
# Manager's default channel, as config.ini's channel_url (the package's default) and as
# the "default" entry of its channels.list: both spellings are read, so both are seeded.
DEFAULT_CHANNELS = (
    "https://raw.githubusercontent.com/ltdrdata/ComfyUI-Manager/main",
    "https://raw.githubusercontent.com/Comfy-Org/ComfyUI-Manager/main",
)
DB_FILES = ("custom-node-list.json", "extension-node-map.json", "model-list.json")
GIT_ENV = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_AUTHOR_NAME": "comfycine tests",
    "GIT_AUTHOR_EMAIL": "tests@comfycine.invalid",
    "GIT_COMMITTER_NAME": "comfycine tests",
    "GIT_COMMITTER_EMAIL": "tests@comfycine.invalid",
}

PACK_SOURCE = '''"""A one-node pack the comfycine tests install through ComfyUI-Manager."""


class {node_class}:
    CATEGORY = "comfycine/test"
    RETURN_TYPES = ("IMAGE",)
    FUNCTION = "run"

    @classmethod
    def INPUT_TYPES(cls):
        return {{"required": {{"image": ("IMAGE",)}}}}

    def run(self, image):
        return (image,)


NODE_CLASS_MAPPINGS = {{"{node_class}": {node_class}}}
'''


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass  # pytest output stays readable; the server's own log has the story


class LoopbackFiles:
    """A static file server on 127.0.0.1 (a free port) for ``root``, run from a thread."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        handler = partial(_QuietHandler, directory=str(root))
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def url(self, name: str) -> str:
        """The URL of ``name`` under the root (whether or not the file exists)."""
        return f"http://127.0.0.1:{self.port}/{name}"

    def close(self) -> None:
        """Stop serving (bounded: the serve loop polls every half second)."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@dataclass(frozen=True)
class PackRepo:
    """A custom-node pack served as a git repository: Manager's id is the URL's last part."""

    id: str
    node_class: str
    url: str
    title: str

    def channel_entry(self) -> dict[str, Any]:
        """The pack as an entry of Manager's custom-node-list.json."""
        return {
            "author": "comfycine tests",
            "title": self.title,
            "id": self.id,
            "reference": self.url,
            "files": [self.url],
            "install_type": "git-clone",
            "description": "A one-node pack for comfycine's tests.",
        }


@dataclass(frozen=True)
class FakeModel:
    """A small fake model file served on loopback, as an entry of Manager's model list."""

    name: str
    filename: str
    url: str
    size: int
    type: str = "checkpoint"
    base: str = "SD1.5"
    save_path: str = "checkpoints"

    def list_entry(self) -> dict[str, Any]:
        """The model as an entry of Manager's model-list.json."""
        return {
            "name": self.name,
            "type": self.type,
            "base": self.base,
            "save_path": self.save_path,
            "description": "A fake model file for comfycine's tests.",
            "reference": self.url,
            "filename": self.filename,
            "url": self.url,
            "size": f"{self.size / 1024:.0f}KB",
        }


def _git(args: list[str], cwd: Path) -> None:
    env = {**os.environ, **GIT_ENV}
    subprocess.run(
        ["git", *args], cwd=cwd, env=env, check=True, capture_output=True, timeout=GIT_TIMEOUT
    )


def build_pack(served: LoopbackFiles, pack_id: str, node_class: str) -> PackRepo:
    """Write a one-node pack as a bare repository under ``served`` (dumb-HTTP ready).

    The URL has no ``.git`` suffix: Manager names the pack (and its folder under
    custom_nodes) after the URL's last part, suffix included.
    """
    work = served.root.parent / f"{pack_id}-work"
    work.mkdir(parents=True)
    (work / "__init__.py").write_text(PACK_SOURCE.format(node_class=node_class))
    _git(["init", "-q", "-b", "main"], work)
    _git(["add", "."], work)
    _git(["commit", "-q", "-m", f"{node_class}"], work)
    bare = served.root / pack_id
    _git(["clone", "-q", "--bare", str(work), str(bare)], served.root)
    # The static files (info/refs, objects/info/packs) a dumb-HTTP clone reads.
    _git(["update-server-info"], bare)
    return PackRepo(pack_id, node_class, served.url(pack_id), f"Comfycine {node_class}")


def write_model(served: LoopbackFiles, filename: str, size: int = 4096) -> FakeModel:
    """Write a fake model file of ``size`` bytes under ``served``."""
    # Not random: the same bytes every run, so a test can compare what landed.
    (served.root / filename).write_bytes(bytes(i % 251 for i in range(size)))
    return FakeModel(Path(filename).stem, filename, served.url(filename), size)


def channel_cache_name(channel_url: str, db_file: str) -> str:
    """The file name Manager caches ``channel_url/db_file`` under (its polynomial hash)."""
    uri = f"{channel_url}/{db_file}"
    value = 0
    for char in uri:
        value = (value * 31 + ord(char)) % (2**32)
    return f"{value}_{db_file}"


@dataclass
class ManagerDB:
    """The packs and models added to Manager's bundled DB in a base dir's channel cache."""

    bundled_dir: Path
    packs: list[PackRepo] = field(default_factory=list)
    models: list[FakeModel] = field(default_factory=list)

    def write(self, cache_dir: Path) -> None:
        """(Re)write the cache files: the bundled DB plus the test packs and models."""
        cache_dir.mkdir(parents=True, exist_ok=True)
        for db_file in DB_FILES:
            data = json.loads((self.bundled_dir / db_file).read_text(encoding="utf-8"))
            _add_entries(data, db_file, self.packs, self.models)
            text = json.dumps(data, indent=1)
            for channel in DEFAULT_CHANNELS:
                (cache_dir / channel_cache_name(channel, db_file)).write_text(text)


def _add_entries(
    data: dict[str, Any], db_file: str, packs: Iterable[PackRepo], models: Iterable[FakeModel]
) -> None:
    if db_file == "custom-node-list.json":
        data["custom_nodes"].extend(pack.channel_entry() for pack in packs)
    elif db_file == "extension-node-map.json":
        for pack in packs:
            data[pack.url] = [[pack.node_class], {"title_aux": pack.title}]
    else:
        data["models"].extend(model.list_entry() for model in models)
