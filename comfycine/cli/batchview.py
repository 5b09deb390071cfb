"""What ``batch`` shows while it runs, and the summary table at the end.

On a terminal: one line per finished item, under a live line with the totals (done,
failed, left, ETA) and the item in progress. Off a terminal: the per-item lines only,
plain (cron logs). With ``--events``: NDJSON events on stdout instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from comfycine.cli.progressview import _clock
from comfycine.cli.render import Output

if TYPE_CHECKING:
    from rich.live import Live

EVENT_SCHEMA = "comfycine/event/1"
MARKS = {"succeeded": "✓", "failed": "✗", "skipped": "-", "pending": "…", "running": "•"}


def totals_line(totals: dict[str, Any]) -> str:
    """``3/10 done · 1 failed · 6 left · ETA 01:20``."""
    finished = totals["succeeded"] + totals["failed"] + totals["skipped"]
    parts = [f"{finished}/{totals['total']} done"]
    if totals["failed"]:
        parts.append(f"{totals['failed']} failed")
    parts.append(f"{totals['remaining']} left")
    if totals.get("eta_seconds") is not None:
        parts.append(f"ETA {_clock(totals['eta_seconds'])}")
    return " · ".join(parts)


def item_line(item: dict[str, Any]) -> str:
    """One finished item: mark, name, time, and its output or the reason."""
    status = item["status"]
    seconds = f" {item['seconds']:.1f} s" if isinstance(item.get("seconds"), int | float) else ""
    detail = ""
    if status == "succeeded" and item.get("outputs"):
        detail = " → " + ", ".join(item["outputs"])
    elif item.get("reason"):
        detail = f": {item['reason']}"
    earlier = " (earlier run)" if item.get("earlier") else ""
    return f"{MARKS.get(status, '?')} {item['name']} {status}{earlier}{seconds}{detail}"


class BatchView:
    """The ``on_event`` hook of a batch, drawing for a person or streaming NDJSON."""

    def __init__(self, output: Output, *, events: bool = False) -> None:
        self.output = output
        self.events = events
        self.live_enabled = not events and output.rich_stderr
        self.lines = not events and not output.as_json
        self._live: Live | None = None
        self._status = ""
        self._last_progress: dict[str, str] = {}
        self._current: dict[str, tuple[str, str]] = {}

    def __call__(self, name: str, payload: dict[str, Any]) -> None:
        item = payload.get("item") or {}
        if self.events:
            if name == "item_progress":
                # The elapsed clock changes at every call: not worth a line by itself.
                progress = dict(payload.get("progress") or {})
                progress.pop("elapsed", None)
                line = str(progress)
                if self._last_progress.get(item.get("name", "")) == line:
                    return
                self._last_progress[item.get("name", "")] = line
            self.output.event({"schema": EVENT_SCHEMA, "event": name, **payload})
            return
        if name in ("item_succeeded", "item_failed") or (
            name == "item_skipped" and item.get("status") == "skipped"
        ):
            if self.lines:
                self.output.info(item_line(item))
        elif name in ("item_notice", "item_stalled"):
            self.output.info(f"{item.get('name', '')}: {payload.get('message')}")
            return
        elif name == "batch_notice":
            self.output.info(str(payload.get("message")))
            return
        elif name == "target_down" and not self.output.as_json:
            error = payload.get("error") or {}
            self.output.info(f"! {payload.get('target')} stops: {error.get('message')}")
        self._draw(name, item, payload)

    def _draw(self, name: str, item: dict[str, Any], payload: dict[str, Any]) -> None:
        if not self.live_enabled:
            return
        key = str(item.get("name", ""))
        if name in ("item_started", "item_progress"):
            progress = payload.get("progress") or {}
            phase = progress.get("phase") or "starting"
            node = f" {progress['node_title']}" if progress.get("node_title") else ""
            self._current[key] = (phase, f"{key} {phase}{node}")
        else:
            self._current.pop(key, None)
        # The item on the GPU says most; the ones queued behind it can wait.
        shown = sorted(self._current.values(), key=lambda entry: entry[0] != "running")
        current = f"  │ {shown[0][1]}" if shown else ""
        self._status = totals_line(payload["totals"]) + current
        if self._live is None:
            from rich.live import Live

            self._live = Live(
                self, console=self.output.console, refresh_per_second=4, transient=True
            )
            self._live.start()

    def __rich__(self) -> Any:
        from rich.text import Text

        return Text("• " + self._status)

    def close(self) -> None:
        """Remove the live line."""
        if self._live is not None:
            self._live.stop()
            self._live = None

    def __enter__(self) -> BatchView:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def print_summary(output: Output, data: dict[str, Any]) -> None:
    """The table of every item (stdout), then the counts (stderr)."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    dry = data.get("dry_run")
    table = Table("item", "plan" if dry else "status", "seconds", box=None)
    # Paths wrap rather than end in "…": a person copies them from here.
    table.add_column("output or reason", overflow="fold")
    for item in data.get("items") or []:
        if dry:
            state = item["plan"] if item["plan"] != "skip" else f"skip ({item['status']})"
        else:
            state = item["status"] + (" (earlier)" if item.get("earlier") else "")
        seconds = item.get("seconds")
        detail = "\n".join(item.get("outputs") or []) or (item.get("reason") or "")
        table.add_row(
            escape(output.redacted(str(item["name"]))),
            escape(state),
            "" if seconds is None else f"{seconds:.1f}",
            escape(output.redacted(detail)),
        )
    import sys

    from comfycine.cli.render import is_tty

    if is_tty(sys.stdout):
        Console(highlight=False).print(table)
    else:
        # Piped or redirected: one tab-separated line per item, never wrapped mid-path.
        for item in data.get("items") or []:
            state = item["plan"] if dry else item["status"]
            seconds = "" if item.get("seconds") is None else f"{item['seconds']:.1f}"
            detail = " ".join(item.get("outputs") or []) or (item.get("reason") or "")
            output.write_stdout("\t".join((str(item["name"]), state, seconds, detail)))
    runs = sum(1 for i in data.get("items") or [] if i["plan"] != "skip")
    if dry:
        output.info(f"Dry run: {runs} of {data['total']} item(s) would run.")
    else:
        output.info(
            f"batch {data['batch']} ({data['template']}): {data['succeeded']} succeeded, "
            f"{data['failed']} failed, {data['skipped']} skipped"
            + (f", {data['pending']} not run" if data.get("pending") else "")
        )
