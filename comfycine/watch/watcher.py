"""The watcher loop: ``EXCHANGE_DIR/input/`` → template → ``output/``, one file at a time.

A periodic rescan is the source of truth; watchdog events only wake the loop early
(FSEvents has no close event, and coalesces events). Each file is observed until
:mod:`.completeness` calls it complete, then handed to :class:`.items.ItemHandler`,
which runs it through the one job code path and files it. Restart safety lives in the
ledger (see :func:`.items.decide`); one watcher per exchange folder is enforced with a
lock file.

Stopping: Ctrl-C or SIGTERM (``launchctl bootout``) while idle or before a job was
posted returns normally, so the command exits 0 with nothing partial. While a job is
being followed it raises :class:`~comfycine.errors.Interrupted` (exit 130): the job goes
on running on the server, and the next watch re-attaches to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from watchdog.events import FileSystemEvent, FileSystemEventHandler

from ..errors import Interrupted, UsageError
from ..jobs import Observer
from ..ledger import Ledger
from ..settings import Settings
from ..targets import Target, resolve_target
from ..templates import check_assignments, load_template, template_dirs
from .completeness import (
    DEFAULT_INTERVAL,
    DEFAULT_POLLS,
    UNREADABLE_CONTAINER,
    FileState,
    Probes,
    StabilityTracker,
    incomplete_reason,
)
from .conforming import take_timeline
from .exchange import Exchange, scan_inputs
from .items import EventSink, ItemHandler, Notify, WatchSummary
from .timelines import WAITING_FOR_MEDIA, in_bundle, timeline_folders, timeline_of

# Without pending files, rescan this often anyway: watchdog events are only hints.
RESCAN_INTERVAL = 15.0
# After transient trouble (server unreachable), try a held file again this much later.
RETRY_AFTER = 30.0
# --once: how long to wait for files still being written before leaving them be.
ONCE_WAIT = 120.0
# A stable video that ffprobe still cannot read after this long is taken anyway
# (the render then says what is wrong): a broken file must not wait forever.
UNREADABLE_AFTER = 600.0
LOCK_NAME = ".comfycine-watch.lock"


@dataclass
class WatchOptions:
    """How to watch: which folder, which template, how patiently."""

    exchange_dir: Path
    template: str | None = None  # None: the first subfolder of input/ names it
    assignments: Sequence[str] = ()  # NAME=VALUE for every job
    target: str | None = None
    once: bool = False
    poll_interval: float = DEFAULT_INTERVAL
    polls: int = DEFAULT_POLLS
    rescan_interval: float = RESCAN_INTERVAL
    retry_after: float = RETRY_AFTER
    once_wait: float = ONCE_WAIT
    use_watchdog: bool = True
    probes: Probes = field(default_factory=Probes)
    # Unattended: partner (paid API) nodes run only when this says so (--allow-spend).
    allow_spend: bool = False


@contextlib.contextmanager
def exchange_lock(root: Path) -> Iterator[None]:
    """Hold the exchange folder's lock: a second watcher would take the same files.

    The lock dies with the process (flock), so a killed watcher never blocks a restart.
    """
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock
        yield
        return
    fd = os.open(root / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode("ascii", "replace").strip() or "?"
            raise UsageError(
                f"Another comfycine watch (pid {holder}) is already watching {root}.",
                hint="It takes new files on its own. To stop the LaunchAgent: "
                "launchctl bootout gui/$(id -u)/com.comfycine.watch",
                code="watcher_running",
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode("ascii"))
        yield
    finally:
        os.close(fd)


class _Waker(FileSystemEventHandler):
    """watchdog's thread → the loop: any change under input/ wakes a rescan."""

    def __init__(self, loop: asyncio.AbstractEventLoop, event: asyncio.Event) -> None:
        super().__init__()
        self._loop = loop
        self._event = event

    def dispatch(self, event: FileSystemEvent) -> None:
        """Called by watchdog's thread for every file-system event."""
        # Our own reads (hashing, uploading) show up as open / close-without-write.
        if event.event_type in ("opened", "closed_no_write"):
            return
        with contextlib.suppress(RuntimeError):  # the loop already closed
            self._loop.call_soon_threadsafe(self._event.set)


def _start_watchdog(folder: Path, waker: _Waker) -> Any:
    import warnings

    from watchdog.observers import Observer as FileSystemObserver

    # inotify warns when a new folder (input/.done/x, made by mkdir -p) is registered
    # twice; harmless, and it would land in the agent's log every time.
    warnings.filterwarnings(
        "ignore", message="Callback with id", category=RuntimeWarning, module="watchdog"
    )
    observer = FileSystemObserver()
    observer.schedule(waker, str(folder), recursive=True)
    observer.start()
    return observer


class Watcher:
    """Scans ``input/``, waits for completeness, hands ready files over one at a time."""

    def __init__(self, options: WatchOptions, items: ItemHandler, emit: EventSink) -> None:
        self.options = options
        self.items = items
        self.emit = emit
        self.input_dir = items.exchange.input_dir
        self.tracker = StabilityTracker(polls=options.polls, interval=options.poll_interval)
        self.wake = asyncio.Event()
        # input → (state, loop time until which it is left alone): after transient
        # trouble, or for this whole run when it could not be moved away.
        self.held: dict[str, tuple[FileState, float]] = {}
        self.seen: set[str] = set()
        self.waiting: dict[str, str] = {}

    async def run(self) -> WatchSummary:
        """Watch until cancelled, or (``once``) until nothing is left to take."""
        loop = asyncio.get_running_loop()
        summary = self.items.summary
        waited = 0.0
        while True:
            pending = await self.scan_once()
            if self.options.once:
                if not pending:
                    break
                if waited >= self.options.once_wait:
                    for rel in sorted(self.tracker.tracked - set(self.held)):
                        summary.pending.append(rel)
                        self.emit({"event": "item_incomplete", "input": rel})
                    break
            delay = self.options.poll_interval if pending else self.options.rescan_interval
            retry = [until - loop.time() for _, until in self.held.values()]
            delay = max(0.0, min([delay, *retry]))
            started = loop.time()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self.wake.wait()
            self.wake.clear()
            waited += loop.time() - started
        return summary

    async def scan_once(self) -> bool:
        """One pass: observe every file, take the complete ones; True if some must wait."""
        loop = asyncio.get_running_loop()
        entries = await asyncio.to_thread(scan_inputs, self.input_dir)
        present = {rel.as_posix() for rel, _ in entries}
        self.tracker.keep_only(present)
        for gone in [key for key in self.held if key not in present]:
            del self.held[gone]
        self.seen &= present
        self.waiting = {k: v for k, v in self.waiting.items() if k in present}
        pending = False
        # A folder holding a timeline is one piece of work (see .timelines): its media
        # are never taken alone, and the timeline waits until all of them are complete.
        folders = timeline_folders([rel for rel, _ in entries])
        unsettled: set[PurePosixPath] = set()
        ordered = sorted(
            entries,
            key=lambda e: (timeline_of(e[0]) is not None, e[1].mtime_ns, e[0].as_posix()),
        )
        for rel, state in ordered:
            timeline = timeline_of(rel)
            if timeline is None and in_bundle(rel):
                continue  # a bundle's other files: part of its timeline, never inputs
            claimed = timeline is None and rel.parent in folders
            if timeline is not None and timeline.parent in unsettled:
                pending = True
                if self.waiting.get(rel.as_posix()) != WAITING_FOR_MEDIA:
                    self.waiting[rel.as_posix()] = WAITING_FOR_MEDIA
                    self.emit(
                        {
                            "event": "item_waiting",
                            "input": rel.as_posix(),
                            "reason": WAITING_FOR_MEDIA,
                        }
                    )
                continue
            key = rel.as_posix()
            held = self.held.get(key)
            if held is not None and held[0] == state and held[1] > loop.time():
                continue
            self.held.pop(key, None)
            if key not in self.seen:
                self.seen.add(key)
                self.emit({"event": "item_seen", "input": key, "size": state.size})
            if not self.tracker.observe(key, state):
                pending = True
                if claimed:
                    unsettled.add(rel.parent)
                continue
            path = self.input_dir / Path(*rel.parts)
            reason = await asyncio.to_thread(incomplete_reason, path, self.options.probes)
            # Unchanged for long (its mtime says so across --once runs): take it anyway.
            unchanged = max(self.tracker.stable_for(key), time.time() - state.mtime_ns / 1e9)
            if reason == UNREADABLE_CONTAINER and unchanged >= UNREADABLE_AFTER:
                reason = None
            if reason is not None:
                if self.waiting.get(key) != reason:
                    self.waiting[key] = reason
                    self.emit({"event": "item_waiting", "input": key, "reason": reason})
                pending = True
                if claimed:
                    unsettled.add(rel.parent)
                continue
            if claimed:
                continue  # complete, and left for its timeline
            self.waiting.pop(key, None)
            self.tracker.forget(key)
            if timeline is not None:
                where = self.input_dir / Path(*timeline.parts)
                outcome = await take_timeline(self.items, timeline, where)
            else:
                outcome = await self.items.take(rel, path, state)
            if outcome == "hold":
                wait = float("inf") if self.options.once else self.options.retry_after
                self.held[key] = (state, loop.time() + wait)
            elif outcome == "stuck":
                self.held[key] = (state, float("inf"))
            # A job may have taken minutes: look at the folder afresh before the next file.
            self.wake.set()
            return True
        return pending


def check_fixed_template(settings: Settings, name: str) -> None:
    """``--template`` must exist and take a media file: checked before watching."""
    template = load_template(name, template_dirs(settings.workflow_dir))
    if not any(p.kind.is_media for p in template.parameters.values()):
        raise UsageError(
            f"Template {template.name} has no media input (PARAM_IMAGE_…, PARAM_VIDEO_…), "
            "so it cannot take watched files.",
            hint="Choose a template that takes an image or a video (see: comfycine workflow "
            "list), or add a PARAM_IMAGE_INPUT / PARAM_VIDEO_INPUT placeholder to it.",
            code="template_without_media",
            details={"template": template.name},
        )


async def watch_exchange(
    settings: Settings,
    options: WatchOptions,
    *,
    on_event: EventSink | None = None,
    notify: Notify | None = None,
    observer: Observer | None = None,
) -> WatchSummary:
    """Watch ``options.exchange_dir`` (see the module docstring); return what was done.

    ``on_event`` gets one dict per happening, ``event`` naming it: ``folder_created``,
    ``watch_started``, ``watchdog_unavailable``, ``item_seen``, ``item_waiting``,
    ``item_started``, ``item_resumed``, ``item_succeeded``, ``item_failed``,
    ``item_skipped``, ``item_held``, ``item_incomplete``, ``notify_failed``.
    ``notify(kind, payload)`` is awaited for each file rendered (``watch.succeeded``)
    or failed (``watch.failed``); its errors are reported, never fatal. A ``once`` run
    that had to hold files (server unreachable) raises that error at the end.
    """

    def emit(payload: dict[str, Any]) -> None:
        if on_event is not None:
            on_event({"schema": "comfycine/event/1", **payload})

    check_assignments(options.assignments)
    if options.template:
        check_fixed_template(settings, options.template)
    target = resolve_target(settings, options.target)
    exchange = Exchange(options.exchange_dir)
    created = exchange.ensure()
    if created:
        emit({"event": "folder_created", "path": str(exchange.root), **_created(exchange, created)})
    summary = WatchSummary(str(exchange.root), "once" if options.once else "watch")
    with (
        exchange_lock(exchange.root),
        Ledger.open(settings.ledger_path, secrets=settings.secret_values) as ledger,
    ):
        items = ItemHandler(
            settings,
            exchange,
            target,
            ledger,
            emit=emit,
            notify=notify,
            observer=observer,
            summary=summary,
            fixed_template=options.template,
            assignments=options.assignments,
            allow_spend=options.allow_spend,
        )
        watcher = Watcher(options, items, emit)
        await _run(watcher, exchange, target, emit)
    if options.once and summary.transient is not None:
        summary.transient.details.setdefault("held", summary.held)
        raise summary.transient
    return summary


def _created(exchange: Exchange, created: list[Path]) -> dict[str, Any]:
    """The folder_created event's fields: what was made, and what to do next."""
    if exchange.root in created:
        message = (
            f"The exchange folder {exchange.root} did not exist: created it, with input/, "
            "output/ and failed/. Export into input/<template>/ (e.g. input/upscale/)."
        )
    else:
        names = ", ".join(f"{p.name}/" for p in created)
        message = f"Created the missing {names} in {exchange.root}."
    return {"created": [str(p) for p in created], "message": message}


async def _run(watcher: Watcher, exchange: Exchange, target: Target, emit: EventSink) -> None:
    loop = asyncio.get_running_loop()
    options = watcher.options
    fs_observer = None
    if options.use_watchdog and not options.once:
        try:
            fs_observer = _start_watchdog(exchange.input_dir, _Waker(loop, watcher.wake))
        except Exception as exc:  # inotify limits, odd volumes: the rescan still works
            emit({"event": "watchdog_unavailable", "message": f"{type(exc).__name__}: {exc}"})
    emit(
        {
            "event": "watch_started",
            "exchange": str(exchange.root),
            "input": str(exchange.input_dir),
            "template": options.template,
            "mode": watcher.items.summary.mode,
            "target": target.name,
        }
    )
    sigterm = _stop_on_sigterm(loop, asyncio.current_task())
    try:
        await watcher.run()
    except asyncio.CancelledError:
        watcher.items.summary.stopped = "signal"  # nothing was posted: a clean stop
    except Interrupted as exc:
        raise watcher.items.interrupted(exc) from None
    finally:
        if sigterm:
            loop.remove_signal_handler(signal.SIGTERM)
        if fs_observer is not None:
            fs_observer.stop()
            await asyncio.to_thread(fs_observer.join, 5.0)


def _stop_on_sigterm(loop: asyncio.AbstractEventLoop, task: asyncio.Task[Any] | None) -> bool:
    """launchd stops an agent with SIGTERM: treat it like Ctrl-C (main thread only)."""
    if task is None:
        return False
    try:
        loop.add_signal_handler(signal.SIGTERM, task.cancel)
    except (ValueError, RuntimeError, NotImplementedError):
        return False
    return True


def watch(
    settings: Settings,
    options: WatchOptions,
    *,
    on_event: EventSink | None = None,
    notify: Notify | None = None,
    observer: Observer | None = None,
) -> WatchSummary:
    """Run :func:`watch_exchange` in one event loop for the whole run."""
    return asyncio.run(
        watch_exchange(settings, options, on_event=on_event, notify=notify, observer=observer)
    )
