"""The fake Cloud's API v2 state: assets over content-addressed blobs, keys and refusals.

Blobs are bytes in ``CloudState.files`` (the same dict the v1 routes and the storage
host serve), keyed by a file name; :class:`V2State` maps each blake3 hash to that name
and mints :class:`Asset` records over it. Job outputs become assets as they are written,
so ``Output.id`` is an asset id for ``GET /api/v2/assets/{id}``. Everything here lives on
the server loop (see :mod:`tests.fakecloud.state`).
"""

from __future__ import annotations

import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

import blake3

if TYPE_CHECKING:
    from tests.fakecloud.state import Job

# Jobs and their outputs are kept this long (Cloud's retention is a platform property).
JOB_RETENTION = 24 * 3600.0
HASH_PREFIX = "blake3:"


def hash_bytes(data: bytes) -> str:
    """``blake3:<hex>`` of ``data``, as the v2 API writes hashes."""
    return HASH_PREFIX + blake3.blake3(data).hexdigest()


def is_hash(text: str) -> bool:
    """Whether ``text`` is a well-formed ``blake3:<64 hex>`` hash."""
    digest = text.removeprefix(HASH_PREFIX)
    return (
        text.startswith(HASH_PREFIX)
        and len(digest) == 64
        and all(c in "0123456789abcdef" for c in digest)
    )


@dataclass
class Asset:
    """One asset record over a stored blob (an upload or a job output)."""

    id: str
    hash: str
    size_bytes: int
    content_type: str
    file_path: str | None
    blob: str
    created_at: float = field(default_factory=time.time)
    expires_at: float | None = None
    job_id: str | None = None
    node_id: str | None = None


class AssetUpload(NamedTuple):
    """One ``POST /api/v2/assets`` whose file part arrived, and how it was answered."""

    file_path: str
    hash: str
    size_bytes: int
    status: int


@dataclass
class V2Refusal:
    """A canned v2 error answer: status, ``error.code`` and an optional ``Retry-After``."""

    status: int
    code: str
    message: str
    retry_after: str | None = None


@dataclass
class V2State:
    """Assets, blob index, claimed idempotency keys, armed refusals and call records."""

    assets: dict[str, Asset] = field(default_factory=dict)
    blobs: dict[str, str] = field(default_factory=dict)
    job_keys: set[str] = field(default_factory=set)
    asset_keys: set[str] = field(default_factory=set)
    submit_refusals: deque[V2Refusal] = field(default_factory=deque)
    get_refusals: deque[V2Refusal] = field(default_factory=deque)
    drop_submits: int = 0
    submits: list[tuple[str | None, Any]] = field(default_factory=list)
    cancels: list[str] = field(default_factory=list)
    asset_uploads: list[AssetUpload] = field(default_factory=list)

    def store_blob(self, files: dict[str, bytes], data: bytes, file_path: str) -> tuple[str, bool]:
        """Store ``data`` unless a blob with its hash exists; return ``(hash, created_new)``."""
        digest = hash_bytes(data)
        if digest in self.blobs:
            return digest, False
        base = file_path.replace("\\", "/").rsplit("/", 1)[-1] or "blob"
        name = f"{digest[len(HASH_PREFIX) : len(HASH_PREFIX) + 12]}_{base}"
        files[name] = data
        self.blobs[digest] = name
        return digest, True

    def mint(
        self,
        files: dict[str, bytes],
        digest: str,
        content_type: str,
        file_path: str | None,
        expires_in: int | None = None,
    ) -> Asset:
        """A new asset record over the blob with hash ``digest`` (which must exist)."""
        blob = self.blobs[digest]
        expires = time.time() + expires_in if expires_in is not None else None
        asset = Asset(str(uuid.uuid4()), digest, len(files[blob]), content_type, file_path, blob)
        asset.expires_at = expires
        self.assets[asset.id] = asset
        return asset

    def find(self, digest: str, file_path: str | None) -> Asset | None:
        """An uploaded (not job-made) asset over ``digest`` with the same ``file_path``."""
        for asset in self.assets.values():
            if asset.hash == digest and asset.file_path == file_path and asset.job_id is None:
                return asset
        return None

    def commit_output(self, files: dict[str, bytes], job: Job, node: str, name: str) -> Asset:
        """Make the output file ``name`` of ``job`` an asset and emit its ``output`` event."""
        data = files[name]
        digest = hash_bytes(data)
        self.blobs.setdefault(digest, name)
        asset = Asset(str(uuid.uuid4()), digest, len(data), "image/png", name, name)
        asset.job_id, asset.node_id = job.id, node
        asset.expires_at = job.create_time + JOB_RETENTION
        self.assets[asset.id] = asset
        job.output_assets.append(asset.id)
        job.emit("output", {"asset_id": asset.id})
        return asset


def set_progress(
    job: Job,
    nodes_done: int,
    node: str | None,
    class_type: str | None,
    step: int | None = None,
    steps: int | None = None,
) -> None:
    """Store the job's progress snapshot (spec ``Progress``) and emit it as an event."""
    total = max(len(job.prompt), 1)
    fraction = step / steps if step is not None and steps else 0.0
    value = min(1.0, (nodes_done + fraction) / total)
    message = None
    if class_type is not None:
        message = f"{class_type} {step}/{steps}" if step is not None else class_type
    snapshot = {
        "value": round(value, 4),
        "nodes_done": nodes_done,
        "nodes_total": len(job.prompt),
        "current_node": node,
        "current_node_class": class_type,
        "step": step,
        "steps": steps,
        "message": message,
    }
    job.progress = snapshot
    job.emit("progress", dict(snapshot))


def set_preview(job: Job, node: str, data_base64: str) -> None:
    """Store the latest preview (pushed on SSE connect) and emit it."""
    preview = {"node_id": node, "content_type": "image/jpeg", "data_base64": data_base64}
    job.preview = preview
    job.emit("preview", dict(preview))
