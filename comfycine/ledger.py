"""Ledger: the SQLite journal of jobs that ``status``, ``wait``, ``cancel``, ``debug`` read.

One file (``Settings.ledger_path``) shared by every comfycine process on the machine: a
``generate``, a ``wait`` in another shell, a ``batch`` and the ``watch`` daemon may all
read and write it at once. That is why the database runs in WAL mode (readers never block
the writer), with a busy timeout, and why every write is one short ``BEGIN IMMEDIATE``
transaction (taking the write lock up front, so the busy timeout applies instead of a
late "database is locked" when a read would upgrade to a write).

One connection per process, used from the asyncio thread only; calls are quick and
synchronous (a few milliseconds), so the loop does not need a thread for them.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .envnames import ENV_DATA_DIR
from .errors import ComfycineError, JobNotFound, UsageError

# What a secret value is replaced with (the same marker as terminal output).
REDACTED = "***"
# "rendered": the job succeeded on the server but not every output is on disk yet (a
# download cut short, a full disk); `wait` downloads what is missing, never renders again.
STATUSES = frozenset(
    {
        "submitting",
        "queued",
        "running",
        "rendered",
        "succeeded",
        "failed",
        "interrupted",
        "cancelled",
        "lost",
    }
)
TERMINAL_STATUSES = frozenset({"succeeded", "failed", "interrupted", "cancelled", "lost"})
BUSY_TIMEOUT_S = 10.0
MIN_PREFIX = 4

# Keys that carry credentials. A prompt's ``extra_data`` holds the Comfy.org key for
# partner (API) nodes, and some custom nodes take a key as a plain input; the ledger is
# an unencrypted file kept for months, so such keys are dropped wherever they appear.
# Compared lower-cased with "-" read as "_".
SECRET_KEYS = frozenset(
    {"api_key_comfy_org", "auth_token_comfy_org", "x_api_key", "token", "api_key", "authorization"}
)

_JSON_FIELDS = frozenset(
    {"params", "seeds", "graph", "outputs", "remote_outputs", "error", "extra"}
)
_NULLABLE_JSON = frozenset({"error"})

# MIGRATIONS[n] upgrades a ledger from schema version n to n + 1. Migrations must stay
# additive (new tables, columns with defaults) so an older comfycine, still running as a
# watcher, keeps working on a ledger a newer one has upgraded.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE jobs (
        id TEXT PRIMARY KEY, client_id TEXT NOT NULL,
        target TEXT NOT NULL, server_url TEXT NOT NULL, template TEXT,
        params TEXT NOT NULL DEFAULT '{}', seeds TEXT NOT NULL DEFAULT '{}',
        graph TEXT NOT NULL DEFAULT '{}', status TEXT NOT NULL, created_at REAL NOT NULL,
        submitted_at REAL, started_at REAL, finished_at REAL,
        outputs TEXT NOT NULL DEFAULT '[]', remote_outputs TEXT NOT NULL DEFAULT '[]',
        error TEXT, pid INTEGER, batch_id TEXT, source_path TEXT,
        extra TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX jobs_created_at ON jobs (created_at);
    CREATE INDEX jobs_status ON jobs (status, created_at);
    CREATE INDEX jobs_batch_id ON jobs (batch_id);
    CREATE INDEX jobs_source_path ON jobs (source_path);
    """,
    # batch and watch: which input (content hash + template + parameters) a job renders.
    """
    ALTER TABLE jobs ADD COLUMN item_key TEXT;
    CREATE INDEX jobs_item_key ON jobs (item_key, created_at);
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


@dataclass(frozen=True)
class JobRecord:
    """One job as the ledger knows it; ``id`` is the ComfyUI prompt_id."""

    id: str
    client_id: str
    target: str
    server_url: str
    template: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    seeds: dict[str, int] = field(default_factory=dict)
    graph: dict[str, Any] = field(default_factory=dict)
    status: str = "submitting"
    created_at: float | None = None
    submitted_at: float | None = None
    started_at: float | None = None
    finished_at: float | None = None
    outputs: list[str] = field(default_factory=list)
    remote_outputs: list[dict[str, Any]] = field(default_factory=list)
    error: dict[str, Any] | None = None
    pid: int | None = None
    batch_id: str | None = None
    source_path: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    item_key: str | None = None

    @property
    def is_terminal(self) -> bool:
        """True once the job will not change any more on the server."""
        return self.status in TERMINAL_STATUSES

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy of every field."""
        return dataclasses.asdict(self)


_FIELDS = tuple(f.name for f in dataclasses.fields(JobRecord))


def needs_collection(record: JobRecord) -> bool:
    """A job rendered on its server whose outputs are not (all) on disk yet.

    Status ``rendered``; or, recorded by older versions, ``failed`` with
    ``download_failed`` and the server's outputs known.
    """
    if record.status == "rendered":
        return True
    code = (record.error or {}).get("code")
    return record.status == "failed" and code == "download_failed" and bool(record.remote_outputs)


def scrub_secrets(value: Any) -> Any:
    """A copy of ``value`` with every mapping key named like a credential removed."""
    if isinstance(value, dict):
        return {
            k: scrub_secrets(v)
            for k, v in value.items()
            if str(k).lower().replace("-", "_") not in SECRET_KEYS
        }
    if isinstance(value, list | tuple):
        return [scrub_secrets(v) for v in value]
    return value


def _encode(name: str, value: Any, secrets: tuple[str, ...] = ()) -> Any:
    """The column value for field ``name``; JSON text for containers, scrubbed first.

    Known secret values (the configured key and token) are replaced wherever they
    appear, e.g. echoed inside a server's error message.
    """
    if name == "status" and value not in STATUSES:
        raise ValueError(f"unknown job status {value!r}")
    if name not in _JSON_FIELDS:
        return _redact_values(value, secrets) if isinstance(value, str) else value
    if value is None:
        if name in _NULLABLE_JSON:
            return None
        raise TypeError(f"job field {name!r} cannot be None")
    # default=str keeps Paths and similar values readable instead of failing the write.
    text = json.dumps(scrub_secrets(value), ensure_ascii=False, default=str)
    return _redact_values(text, secrets)


def _redact_values(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        # A secret with JSON-special characters is matched as it appears in JSON text too.
        for form in {secret, json.dumps(secret)[1:-1]}:
            text = text.replace(form, REDACTED)
    return text


def _decode(row: sqlite3.Row | dict[str, Any]) -> JobRecord:
    values = {name: row[name] for name in _FIELDS}
    for name in _JSON_FIELDS:
        if values[name] is not None:
            values[name] = json.loads(values[name])
    return JobRecord(**values)


@contextmanager
def _translate(path: Path) -> Iterator[None]:
    """Turn sqlite3 failures into comfycine errors that name the ledger file."""
    try:
        yield
    except (sqlite3.IntegrityError, sqlite3.ProgrammingError, sqlite3.InterfaceError):
        raise  # the caller's mistakes (duplicate id, closed ledger), not the file's
    except sqlite3.OperationalError as exc:
        raise ComfycineError(
            f"The job ledger {path} is unavailable: {exc}",
            hint=f"Another comfycine may hold it; retry, or check {ENV_DATA_DIR} and its disk.",
            code="ledger_unavailable",
        ) from exc
    except sqlite3.DatabaseError as exc:
        raise ComfycineError(
            f"The job ledger {path} is damaged: {exc}",
            hint="Move the file aside; comfycine will start a new ledger.",
            code="ledger_corrupt",
        ) from exc


def _retry_busy(step: Callable[[], object]) -> None:
    """Run ``step``, retrying while another process holds the lock, up to the busy timeout.

    Switching a new file to WAL needs an exclusive lock, and there SQLite may answer BUSY
    at once without calling the busy handler (seen in the two-process test), so two
    processes creating the ledger together could fail. Sleeps briefly, only at open.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    delay = 0.005
    while True:
        try:
            step()
            return
        except sqlite3.OperationalError as exc:
            busy = exc.sqlite_errorname.startswith(("SQLITE_BUSY", "SQLITE_LOCKED"))
            if not busy or time.monotonic() + delay > deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.1)


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the schema up to :data:`SCHEMA_VERSION`; return the version found before.

    Runs in one ``BEGIN IMMEDIATE`` transaction and re-reads ``user_version`` inside it, so
    two processes opening a new ledger at once migrate it exactly once.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        found = int(conn.execute("PRAGMA user_version").fetchone()[0])
        for version in range(found, len(MIGRATIONS)):
            for statement in MIGRATIONS[version].split(";"):
                if statement.strip():
                    conn.execute(statement)
        if found < len(MIGRATIONS):
            conn.execute(f"PRAGMA user_version = {len(MIGRATIONS)}")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return found


def _skip_checkpoint_on_close(conn: sqlite3.Connection) -> None:
    """Leave the WAL for the next opener instead of checkpointing on every close.

    Closing the last connection otherwise copies the WAL into the database and fsyncs
    it: about 1.5 ms per command, most of the ledger's cost on a quick job. The WAL
    stays durable and SQLite's auto-checkpoint still bounds its size. Needs Python 3.12+
    (``Connection.setconfig``); older Pythons keep the default.
    """
    option = getattr(sqlite3, "SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE", None)
    setconfig = getattr(conn, "setconfig", None)
    if option is not None and setconfig is not None:
        setconfig(option, True)


class Ledger:
    """The job journal; open with :meth:`open`, use as a context manager or :meth:`close`."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        path: Path,
        clock: Callable[[], float] = time.time,
        secrets: tuple[str, ...] = (),
    ) -> None:
        self._conn = conn
        self.path = path
        self._clock = clock
        self._secrets = tuple(s for s in secrets if s and len(s) >= 4)

    @classmethod
    def open(
        cls,
        path: Path,
        *,
        clock: Callable[[], float] = time.time,
        secrets: tuple[str, ...] = (),
    ) -> Ledger:
        """Open (creating it and its directories if needed) and migrate the ledger at ``path``."""
        path.parent.mkdir(parents=True, exist_ok=True)
        with _translate(path):
            # isolation_level=None: no implicit transactions; we issue BEGIN/COMMIT ourselves.
            conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
            try:
                conn.row_factory = sqlite3.Row
                # NORMAL in WAL mode: durable against process crashes, fsyncs only at checkpoints.
                conn.execute("PRAGMA synchronous=NORMAL")
                _skip_checkpoint_on_close(conn)
                _retry_busy(lambda: conn.execute("PRAGMA journal_mode=WAL"))
                migrate(conn)
            except BaseException:
                conn.close()
                raise
        return cls(conn, path, clock, secrets)

    def close(self) -> None:
        """Close the connection; the ledger cannot be used afterwards."""
        self._conn.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One short write transaction holding the write lock from its first statement."""
        with _translate(self.path):
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _select(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        with _translate(self.path):
            return list(self._conn.execute(sql, tuple(params)))

    def add(self, record: JobRecord) -> JobRecord:
        """Insert a new job (``created_at`` defaults to now) and return it as stored.

        A job id already in the ledger raises ComfycineError with code ``duplicate_job``.
        """
        if record.created_at is None:
            record = dataclasses.replace(record, created_at=self._clock())
        values = [_encode(name, getattr(record, name), self._secrets) for name in _FIELDS]
        sql = f"INSERT INTO jobs ({', '.join(_FIELDS)}) VALUES ({', '.join('?' * len(_FIELDS))})"
        try:
            with self._write() as conn:
                conn.execute(sql, values)
        except sqlite3.IntegrityError as exc:
            raise ComfycineError(
                f"Job {record.id} is already in the ledger.", code="duplicate_job"
            ) from exc
        # Decode what was inserted (secrets scrubbed) rather than query it again.
        return _decode(dict(zip(_FIELDS, values, strict=True)))

    def update(self, job_id: str, **fields: Any) -> JobRecord:
        """Set the given fields of a job and return the new record.

        Unknown field names (and ``id``) raise TypeError, as an unknown keyword would;
        a job not in the ledger raises JobNotFound.
        """
        with self._write():
            self._update(job_id, fields)
        return self._require(job_id)

    def _update(self, job_id: str, fields: dict[str, Any]) -> None:
        unknown = sorted(name for name in fields if name == "id" or name not in _FIELDS)
        if unknown:
            raise TypeError(f"not updatable job fields: {', '.join(unknown)}")
        if not fields:
            if self._conn.execute("SELECT 1 FROM jobs WHERE id = ?", (job_id,)).fetchone():
                return
            raise JobNotFound(f"No job {job_id} in the ledger.")
        assignments = ", ".join(f"{name} = ?" for name in fields)
        values = [_encode(name, value, self._secrets) for name, value in fields.items()]
        cursor = self._conn.execute(
            f"UPDATE jobs SET {assignments} WHERE id = ?", [*values, job_id]
        )
        if cursor.rowcount == 0:
            raise JobNotFound(f"No job {job_id} in the ledger.")

    def mark(self, job_id: str, status: str, **fields: Any) -> JobRecord:
        """Set a job's status, stamping its times unless ``fields`` gives them.

        ``queued`` stamps ``submitted_at`` and ``running`` stamps ``started_at`` when they
        are still unset; a terminal status stamps ``finished_at``; a non-terminal one
        clears it (a job marked ``lost`` may be found running again).
        """
        now = self._clock()
        with self._write() as conn:
            row = conn.execute(
                "SELECT submitted_at, started_at FROM jobs WHERE id = ?", (job_id,)
            ).fetchone()
            if row is None:
                raise JobNotFound(f"No job {job_id} in the ledger.")
            stamps: dict[str, Any] = {}
            if status == "queued" and row["submitted_at"] is None:
                stamps["submitted_at"] = now
            if status == "running" and row["started_at"] is None:
                stamps["started_at"] = now
            stamps["finished_at"] = now if status in TERMINAL_STATUSES else None
            self._update(job_id, {**stamps, **fields, "status": status})
        return self._require(job_id)

    def get(self, job_id: str) -> JobRecord | None:
        """The job with exactly this id, or None."""
        rows = self._select("SELECT * FROM jobs WHERE id = ?", (job_id,))
        return _decode(rows[0]) if rows else None

    def _require(self, job_id: str) -> JobRecord:
        record = self.get(job_id)
        if record is None:
            raise JobNotFound(f"No job {job_id} in the ledger.")
        return record

    def find(self, ref: str) -> JobRecord:
        """Resolve ``last``, a full id, or a unique id prefix of at least 4 characters.

        An ambiguous prefix raises UsageError (code ``ambiguous_job``, the candidate ids
        in ``details.candidates``); no match raises JobNotFound.
        """
        ref = ref.strip()
        if ref == "last":
            rows = self._select("SELECT * FROM jobs ORDER BY created_at DESC, rowid DESC LIMIT 1")
            if not rows:
                raise JobNotFound("The ledger has no jobs yet.")
            return _decode(rows[0])
        record = self.get(ref)
        if record is not None:
            return record
        if len(ref) < MIN_PREFIX:
            raise JobNotFound(f"No job {ref!r}; give the full id or {MIN_PREFIX}+ characters.")
        # A range on the primary key finds ids starting with ref using its index.
        rows = self._select(
            "SELECT id FROM jobs WHERE id >= ? AND id < ? ORDER BY created_at DESC LIMIT 11",
            (ref, ref + "\U0010ffff"),
        )
        if not rows:
            raise JobNotFound(f"No job matches {ref!r}.")
        if len(rows) > 1:
            ids = [row["id"] for row in rows[:10]]
            raise UsageError(
                f"{ref!r} matches several jobs: {', '.join(ids)}",
                hint="Give more characters of the job id (see: comfycine status).",
                details={"candidates": ids},
                code="ambiguous_job",
            )
        return self._require(rows[0]["id"])

    def recent(self, limit: int = 20, *, status: Iterable[str] | None = None) -> list[JobRecord]:
        """Up to ``limit`` jobs, newest first, optionally only those in ``status``."""
        if status is None:
            rows = self._select(
                "SELECT * FROM jobs ORDER BY created_at DESC, rowid DESC LIMIT ?", (limit,)
            )
        else:
            wanted = [status] if isinstance(status, str) else list(status)
            marks = ", ".join("?" * len(wanted))
            rows = self._select(
                f"SELECT * FROM jobs WHERE status IN ({marks})"
                " ORDER BY created_at DESC, rowid DESC LIMIT ?",
                (*wanted, limit),
            )
        return [_decode(row) for row in rows]

    def by_item_key(self, item_key: str) -> list[JobRecord]:
        """Every job rendering the batch/watch item ``item_key``, newest first."""
        rows = self._select(
            "SELECT * FROM jobs WHERE item_key = ? ORDER BY created_at DESC, rowid DESC",
            (item_key,),
        )
        return [_decode(row) for row in rows]

    def rendered_of(self, template: str, *, target: str, limit: int = 50) -> list[JobRecord]:
        """The latest jobs of ``template`` that rendered on ``target``, newest first.

        ``succeeded`` and ``rendered`` (on disk or not): what a cost estimate learns from.
        """
        rows = self._select(
            "SELECT * FROM jobs WHERE template = ? AND target = ?"
            " AND status IN ('succeeded', 'rendered')"
            " ORDER BY created_at DESC, rowid DESC LIMIT ?",
            (template, target, limit),
        )
        return [_decode(row) for row in rows]

    def by_batch(self, batch_id: str) -> list[JobRecord]:
        """Every job of a batch or sweep (its id, or a unique prefix of 5+ characters),
        oldest first; [] when none has it."""
        batch_id = batch_id.strip()
        if len(batch_id) < 5:
            return []
        rows = self._select(
            "SELECT * FROM jobs WHERE batch_id >= ? AND batch_id < ? ORDER BY created_at, rowid",
            (batch_id, batch_id + "\U0010ffff"),
        )
        found = [_decode(row) for row in rows]
        if len({r.batch_id for r in found}) > 1:
            return []  # an ambiguous prefix names no sweep
        return found

    def children(self, job_id: str) -> list[JobRecord]:
        """The jobs made from ``job_id``, oldest first: its retakes (``extra.parent``) and
        the chained stages that took one of its outputs (a ``job:ID`` parameter)."""
        escaped = job_id.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        rows = self._select(
            "SELECT * FROM jobs WHERE json_extract(extra, '$.parent') = ?"
            " OR params LIKE ? ESCAPE '\\' OR params LIKE ? ESCAPE '\\'"
            " ORDER BY created_at, rowid",
            (job_id, f'%"job:{escaped}:%', f'%"job:{escaped}"%'),
        )
        return [_decode(row) for row in rows if row["id"] != job_id]

    def rename(self, job_id: str, new_id: str) -> JobRecord:
        """Give a job the id the server chose for it (the server's id is the one to follow)."""
        with self._write() as conn:
            if conn.execute("UPDATE jobs SET id = ? WHERE id = ?", (new_id, job_id)).rowcount == 0:
                raise JobNotFound(f"No job {job_id} in the ledger.")
        return self._require(new_id)

    def delete(self, job_id: str) -> bool:
        """Remove a job; True when it was there."""
        with self._write() as conn:
            return conn.execute("DELETE FROM jobs WHERE id = ?", (job_id,)).rowcount > 0
