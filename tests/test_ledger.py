"""Tests for comfycine.ledger: the SQLite job journal."""

from __future__ import annotations

import multiprocessing
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from comfycine import ledger as ledger_module
from comfycine.errors import ComfycineError, JobNotFound, UsageError
from comfycine.ledger import (
    SCHEMA_VERSION,
    TERMINAL_STATUSES,
    JobRecord,
    Ledger,
    scrub_secrets,
)

SECRET = "sk-live-do-not-store-0123456789"
JOBS_PER_PROCESS = 200


class FakeClock:
    """A clock that advances one second per reading."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def ledger(tmp_path: Path, clock: FakeClock) -> Iterator[Ledger]:
    with Ledger.open(tmp_path / "data" / "ledger.sqlite3", clock=clock) as opened:
        yield opened


def make_record(job_id: str | None = None, **fields: Any) -> JobRecord:
    return JobRecord(
        id=job_id or str(uuid.uuid4()),
        client_id="client-1",
        target="local",
        server_url="http://127.0.0.1:8188",
        **fields,
    )


def raw_rows(path: Path) -> list[tuple[Any, ...]]:
    """Every stored row, read past the Ledger API."""
    conn = sqlite3.connect(path)
    try:
        return list(conn.execute("SELECT * FROM jobs"))
    finally:
        conn.close()


def test_round_trip_of_every_field(ledger: Ledger) -> None:
    """A record with every field set comes back equal from add, get and find."""
    record = JobRecord(
        id="0d6f3c2e-1111-4a4a-9b9b-123456789abc",
        client_id="c-42",
        target="cloud",
        server_url="https://cloud.comfy.org",
        template="shot-wan22",
        params={"prompt": "a dolly shot, ünïcode", "steps": 30, "cfg": 3.5, "loop": False},
        seeds={"seed": 123456789012, "noise_seed": 7},
        graph={"3": {"class_type": "KSampler", "inputs": {"model": ["4", 0], "seed": 7}}},
        status="succeeded",
        created_at=1.5,
        submitted_at=2.5,
        started_at=3.5,
        finished_at=4.5,
        outputs=["/renders/2025-01-01/shot-0d6f3c2e-01.mp4"],
        remote_outputs=[
            {"node": "9", "kind": "videos", "filename": "a.mp4", "subfolder": "", "type": "output"}
        ],
        error={"code": "x", "message": "m", "hint": "h", "details": {"n": [1, 2]}},
        pid=4242,
        batch_id="batch-1",
        source_path="/exchange/input/a.png",
        extra={"attempt": 2, "nested": {"list": [None, 1.25]}},
    )
    assert ledger.add(record) == record
    assert ledger.get(record.id) == record
    assert ledger.find(record.id) == record


def test_add_stamps_created_at_from_clock(ledger: Ledger, clock: FakeClock) -> None:
    """A record added without created_at gets the injected clock's time."""
    stored = ledger.add(make_record())
    assert stored.created_at == clock.now
    assert stored.status == "submitting"


def test_add_duplicate_id_raises(ledger: Ledger) -> None:
    """Adding a second job with the same id fails with code duplicate_job."""
    record = ledger.add(make_record())
    with pytest.raises(ComfycineError) as info:
        ledger.add(make_record(record.id))
    assert info.value.code == "duplicate_job"


def test_open_uses_wal_busy_timeout_and_normal_sync(tmp_path: Path) -> None:
    """The ledger is in WAL mode, waits on locks, and syncs NORMAL."""
    path = tmp_path / "deep" / "dir" / "ledger.sqlite3"
    with Ledger.open(path) as opened:
        conn = opened._conn
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 10_000
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    other = sqlite3.connect(path)
    try:
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        other.close()


def test_close_via_context_manager(tmp_path: Path) -> None:
    """Leaving the with block closes the connection."""
    with Ledger.open(tmp_path / "ledger.sqlite3") as opened:
        pass
    with pytest.raises(sqlite3.ProgrammingError):
        opened.get("anything")


def test_open_corrupt_file_raises_ledger_corrupt(tmp_path: Path) -> None:
    """A file that is not SQLite raises a comfycine error naming the ledger."""
    path = tmp_path / "ledger.sqlite3"
    path.write_bytes(b"this is not a database, just text" * 100)
    with pytest.raises(ComfycineError) as info:
        Ledger.open(path)
    assert info.value.code == "ledger_corrupt"
    assert str(path) in info.value.message


def test_find_last_full_id_and_prefix(ledger: Ledger) -> None:
    """find resolves last, a full id and a unique prefix of 4+ characters."""
    first = ledger.add(make_record("aaaa1111-0000-4000-8000-000000000000"))
    second = ledger.add(make_record("bbbb2222-0000-4000-8000-000000000000"))
    assert ledger.find("last") == second
    assert ledger.find(first.id) == first
    assert ledger.find("aaaa") == first
    assert ledger.find(" bbbb22 ") == second


def test_find_ambiguous_prefix_lists_candidates(ledger: Ledger) -> None:
    """A prefix shared by two jobs raises ambiguous_job with both ids."""
    one = ledger.add(make_record("abcd0001-0000-4000-8000-000000000000"))
    two = ledger.add(make_record("abcd0002-0000-4000-8000-000000000000"))
    ledger.add(make_record("abce0003-0000-4000-8000-000000000000"))
    with pytest.raises(UsageError) as info:
        ledger.find("abcd")
    assert info.value.code == "ambiguous_job"
    assert sorted(info.value.details["candidates"]) == [one.id, two.id]
    assert ledger.find("abcd0002") == two


@pytest.mark.parametrize("ref", ["ffff", "abc", "ab", "abcd0001-x", "last-ish"])
def test_find_unknown_raises_job_not_found(ledger: Ledger, ref: str) -> None:
    """An unknown id, a too-short prefix or a near miss raises JobNotFound."""
    ledger.add(make_record("abcd0001-0000-4000-8000-000000000000"))
    with pytest.raises(JobNotFound):
        ledger.find(ref)


def test_find_last_on_empty_ledger_raises(ledger: Ledger) -> None:
    """'last' with no jobs raises JobNotFound."""
    with pytest.raises(JobNotFound):
        ledger.find("last")


def test_find_prefix_is_not_a_pattern(ledger: Ledger) -> None:
    """SQL wildcard characters in a ref match nothing but themselves."""
    ledger.add(make_record("abcd0001-0000-4000-8000-000000000000"))
    for ref in ("ab%%", "abc_", "a%cd"):
        with pytest.raises(JobNotFound):
            ledger.find(ref)


def test_recent_newest_first_with_limit(ledger: Ledger) -> None:
    """recent returns the newest jobs first and at most limit of them."""
    ids = [ledger.add(make_record()).id for _ in range(5)]
    assert [r.id for r in ledger.recent()] == ids[::-1]
    assert [r.id for r in ledger.recent(limit=2)] == ids[:-3:-1]


def test_recent_orders_by_created_at_not_insertion(ledger: Ledger) -> None:
    """A job inserted later with an older created_at is listed after newer ones."""
    new = ledger.add(make_record(created_at=200.0))
    old = ledger.add(make_record(created_at=100.0))
    assert [r.id for r in ledger.recent()] == [new.id, old.id]
    assert ledger.find("last") == new


def test_recent_filters_by_status(ledger: Ledger) -> None:
    """recent(status=...) keeps only jobs in those statuses; a bare string works too."""
    done = ledger.add(make_record(status="succeeded"))
    failed = ledger.add(make_record(status="failed"))
    ledger.add(make_record(status="running"))
    assert [r.id for r in ledger.recent(status=["succeeded", "failed"])] == [failed.id, done.id]
    assert [r.id for r in ledger.recent(status="failed")] == [failed.id]
    assert ledger.recent(status=[]) == []


def test_update_returns_new_record(ledger: Ledger) -> None:
    """update writes the given fields, JSON-encoding containers, and returns the record."""
    record = ledger.add(make_record())
    updated = ledger.update(record.id, outputs=["/a.png"], pid=99, error={"code": "c"})
    assert (updated.outputs, updated.pid, updated.error) == (["/a.png"], 99, {"code": "c"})
    assert ledger.get(record.id) == updated
    assert ledger.update(record.id, error=None).error is None


@pytest.mark.parametrize("fields", [{"colour": "red"}, {"id": "other"}, {"pid": 1, "api_key": "k"}])
def test_update_unknown_field_raises(ledger: Ledger, fields: dict[str, Any]) -> None:
    """update refuses fields outside the record (and the id) and writes nothing."""
    record = ledger.add(make_record())
    with pytest.raises(TypeError):
        ledger.update(record.id, **fields)
    assert ledger.get(record.id) == record


def test_update_bad_values_raise(ledger: Ledger) -> None:
    """An unknown status or a None container is refused."""
    record = ledger.add(make_record())
    with pytest.raises(ValueError):
        ledger.update(record.id, status="done")
    with pytest.raises(TypeError):
        ledger.update(record.id, params=None)
    with pytest.raises(ValueError):
        ledger.add(make_record(status="weird"))


def test_update_missing_job_raises(ledger: Ledger) -> None:
    """update and mark on an unknown id raise JobNotFound."""
    with pytest.raises(JobNotFound):
        ledger.update("nope", pid=1)
    with pytest.raises(JobNotFound):
        ledger.update("nope")
    with pytest.raises(JobNotFound):
        ledger.mark("nope", "running")


def test_mark_stamps_times(ledger: Ledger, clock: FakeClock) -> None:
    """mark stamps submitted_at, started_at once, finished_at on terminal statuses."""
    record = ledger.add(make_record())
    queued = ledger.mark(record.id, "queued")
    assert queued.submitted_at == clock.now
    running = ledger.mark(record.id, "running")
    assert running.started_at == clock.now and running.finished_at is None
    again = ledger.mark(record.id, "running")
    assert again.started_at == running.started_at
    lost = ledger.mark(record.id, "lost")
    assert lost.finished_at == clock.now and lost.is_terminal
    found = ledger.mark(record.id, "running")
    assert found.finished_at is None and not found.is_terminal
    done = ledger.mark(record.id, "succeeded", outputs=["/o.mp4"], finished_at=5.0)
    assert (done.status, done.outputs, done.finished_at) == ("succeeded", ["/o.mp4"], 5.0)
    assert done.submitted_at == queued.submitted_at


def test_terminal_statuses() -> None:
    """Exactly the finished statuses are terminal."""
    expected = ["cancelled", "failed", "interrupted", "lost", "succeeded"]
    assert sorted(TERMINAL_STATUSES) == expected
    assert not make_record(status="queued").is_terminal
    assert make_record(status="cancelled").is_terminal


def test_secrets_scrubbed_from_json_fields(ledger: Ledger) -> None:
    """Credential keys are dropped from params, graph and extra before writing."""
    record = make_record(
        params={"prompt": "p", "API_KEY": SECRET, "max_tokens": 5},
        graph={"1": {"class_type": "X", "inputs": {"api_key": SECRET, "text": "t"}}},
        extra={
            "extra_data": {"api_key_comfy_org": SECRET, "Auth_Token_Comfy_Org": SECRET},
            "headers": [{"X-API-Key": SECRET, "Authorization": f"Bearer {SECRET}"}],
            "token": SECRET,
            "kept": "yes",
        },
    )
    stored = ledger.add(record)
    assert stored.params == {"prompt": "p", "max_tokens": 5}
    assert stored.graph == {"1": {"class_type": "X", "inputs": {"text": "t"}}}
    assert stored.extra == {"extra_data": {}, "headers": [{}], "kept": "yes"}
    ledger.update(stored.id, error={"code": "c", "details": {"authorization": SECRET}})
    assert all(SECRET not in str(row) for row in raw_rows(ledger.path))


def test_scrub_secrets_leaves_input_unchanged() -> None:
    """scrub_secrets returns a copy and does not mutate its argument."""
    value = {"a": {"token": "t"}, "b": [{"x-api-key": "k", "c": 1}]}
    assert scrub_secrets(value) == {"a": {}, "b": [{"c": 1}]}
    assert value == {"a": {"token": "t"}, "b": [{"x-api-key": "k", "c": 1}]}


def test_delete(ledger: Ledger) -> None:
    """delete removes a job and reports whether it existed."""
    record = ledger.add(make_record())
    assert ledger.delete(record.id) is True
    assert ledger.get(record.id) is None
    assert ledger.delete(record.id) is False


def test_new_ledger_has_current_schema_version(ledger: Ledger) -> None:
    """A fresh ledger records the current schema version in user_version."""
    assert SCHEMA_VERSION >= 1
    assert ledger._conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_migration_upgrades_existing_ledger(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reopening with a new migration applies it once and keeps the existing jobs."""
    path = tmp_path / "ledger.sqlite3"
    with Ledger.open(path) as opened:
        kept = opened.add(make_record())
    added = "ALTER TABLE jobs ADD COLUMN priority INTEGER NOT NULL DEFAULT 0"
    monkeypatch.setattr(ledger_module, "MIGRATIONS", (*ledger_module.MIGRATIONS, added))
    for _ in range(2):  # the second open must not re-run the ALTER (it would fail)
        with Ledger.open(path) as opened:
            conn = opened._conn
            assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1
            columns = [row[1] for row in conn.execute("PRAGMA table_info(jobs)")]
            assert "priority" in columns
            assert opened.get(kept.id) == kept


def test_newer_ledger_is_still_readable(tmp_path: Path) -> None:
    """A ledger migrated by a newer comfycine (higher user_version) still opens and reads."""
    path = tmp_path / "ledger.sqlite3"
    with Ledger.open(path) as opened:
        kept = opened.add(make_record())
        opened._conn.execute("ALTER TABLE jobs ADD COLUMN future TEXT")
        opened._conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    with Ledger.open(path) as opened:
        assert opened.get(kept.id) == kept
        assert opened.mark(kept.id, "queued").status == "queued"


def hammer(path: str, barrier: Any, tag: str, errors: Any) -> None:
    """Child process: open the shared ledger, then add and update its share of jobs."""
    try:
        barrier.wait(timeout=60)  # a sibling that never starts must not hang this one
        with Ledger.open(Path(path)) as opened:
            for n in range(JOBS_PER_PROCESS):
                record = opened.add(make_record(f"{tag}-{n:04d}", params={"n": n}))
                opened.update(record.id, pid=n)
                opened.mark(record.id, "succeeded", outputs=[f"/out/{tag}/{n}.png"])
                opened.recent(limit=5)
    except BaseException as exc:
        errors.put(f"{tag}: {type(exc).__name__}: {exc}")
        raise


def test_two_processes_write_at_once(tmp_path: Path) -> None:
    """Two OS processes filling one new ledger together never hit 'database is locked'."""
    path = tmp_path / "shared" / "ledger.sqlite3"
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    errors = ctx.Queue()
    workers = [
        ctx.Process(target=hammer, args=(str(path), barrier, tag, errors)) for tag in ("p1", "p2")
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    messages = [errors.get() for _ in range(errors.qsize())] if not errors.empty() else []
    assert [w.exitcode for w in workers] == [0, 0], messages
    with Ledger.open(path) as opened:
        jobs = opened.recent(limit=1000)
    assert len(jobs) == 2 * JOBS_PER_PROCESS
    assert all(job.status == "succeeded" and job.outputs for job in jobs)


def test_clock_is_injectable(tmp_path: Path) -> None:
    """Times come from the clock given to open."""
    fixed: Callable[[], float] = lambda: 42.0  # noqa: E731
    with Ledger.open(tmp_path / "l.sqlite3", clock=fixed) as opened:
        record = opened.add(make_record())
        assert opened.mark(record.id, "failed").finished_at == 42.0
        assert record.created_at == 42.0


def test_known_secret_values_are_redacted_anywhere(tmp_path: Path) -> None:
    """A configured secret echoed in any text (an error message, a prompt) is not stored."""
    secret = 'comfyui-"quoted"-SENTINEL'
    path = tmp_path / "ledger.sqlite3"
    with Ledger.open(path, secrets=(secret,)) as ledger:
        stored = ledger.add(make_record(params={"prompt": f"use {secret} now"}))
        ledger.mark(stored.id, "failed", error={"message": f"401 for key {secret}"})
        assert secret not in str(ledger.get(stored.id))
    assert all(secret not in str(row) and "SENTINEL" not in str(row) for row in raw_rows(path))
