"""The review page: one self-contained static HTML file to look at takes and pick them.

Every value on the page comes from the ledger, so every one goes through
:func:`html.escape` (a prompt may hold ``<script>``); a Content-Security-Policy with a
per-page nonce also keeps anything that slipped through from running, and forbids any
network access. CSS and JS are inline, and pictures (thumbnails, posters, contact
sheets) are embedded as ``data:`` URIs, so the page survives being moved or sent.

Videos are *not* embedded: a few clips would make the page hundreds of MB. They play
from the output file, linked by a path relative to the page's folder (a ``file://`` URI
where there is none, e.g. another drive on Windows). A picture larger than
:data:`EMBED_LIMIT`, or past :data:`EMBED_BUDGET` for the whole page, is linked the same
way instead of embedded. A file that no longer exists is named, not linked, so the page
shows no broken media.
"""

from __future__ import annotations

import base64
import errno
import html
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import webbrowser
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import OutputNotWritable
from .reviewassets import SCRIPT, STYLE

EMBED_LIMIT = 4 * 1024 * 1024
"""Pictures above this many bytes are linked, not embedded (a full-size PNG still fits)."""
EMBED_BUDGET = 64 * 1024 * 1024
"""Embedded bytes for the whole page; later pictures are linked once it is spent."""

_VIDEO = frozenset({".mp4", ".m4v", ".mov", ".webm", ".mkv", ".ogv"})
_AUDIO = frozenset({".wav", ".mp3", ".flac", ".ogg", ".oga", ".m4a", ".opus", ".aac"})
_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


@dataclass(frozen=True)
class ReviewTake:
    """One take as the review page shows it; paths are absolute or relative to the cwd."""

    job: str
    files: list[Path]
    poster: Path | None
    sheet: Path | None
    thumbnail: Path | None
    template: str | None
    params: dict[str, Any]
    seeds: dict[str, int]
    target: str
    status: str
    pick: str | None
    note: str | None
    retake_command: str
    sweep: str | None = None
    cell: dict[str, str] | None = None
    created: float = 0.0
    error: str | None = field(default=None)


def write_review(
    takes: Sequence[ReviewTake], out: Path, *, title: str, varied: Sequence[str] = ()
) -> Path:
    """Write the review page of ``takes`` to ``out`` atomically and return its path.

    With ``varied`` (a sweep's varied parameter names) the takes are laid out in a grid:
    columns by the last name's values, rows by the others'; takes lacking a cell value
    for them are listed under the grid. Without, a list, newest first. An existing page
    at ``out`` is replaced. Raises :class:`OutputNotWritable` when ``out`` cannot be
    written; nothing half-written is left behind.
    """
    out = Path(out).absolute()
    nonce = secrets.token_urlsafe(18)
    page = _Page(out.parent, tuple(varied)).render(list(takes), title=title, nonce=nonce)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".part", dir=out.parent)
    except OSError as exc:
        raise _not_writable(exc, out) from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(page)
        os.replace(temp, out)
    except OSError as exc:
        raise _not_writable(exc, out) from exc
    finally:
        Path(temp).unlink(missing_ok=True)
    return out


def open_in_browser(path: Path) -> bool:
    """Open ``path`` in the default browser without waiting; whether a launch started.

    macOS ``open``, Linux ``xdg-open``, else :mod:`webbrowser`. Never raises.
    """
    opener = "open" if sys.platform == "darwin" else "xdg-open"
    if sys.platform == "darwin" or sys.platform.startswith("linux"):
        command = shutil.which(opener)
        if command is None:
            return False
        try:
            subprocess.Popen(
                [command, str(path)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        except OSError:
            return False
        return True
    try:
        return webbrowser.open(Path(path).absolute().as_uri())
    except Exception:  # webbrowser raises whatever its backends raise
        return False


def _not_writable(exc: OSError, out: Path) -> OutputNotWritable:
    """The error for a failure writing the page ``out``."""
    full = exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))
    return OutputNotWritable(
        f"Cannot write the review page {out}: {exc.strerror or exc}.",
        code="disk_full" if full else None,
        hint=("Free some space" if full else "Fix that folder or choose another")
        + ", then run: comfycine review",
        details={"path": str(out)},
    )


def _e(value: object) -> str:
    """``value`` as text safe inside an element or a double-quoted attribute."""
    return html.escape(str(value), quote=True)


def _picture_type(head: bytes) -> str | None:
    """The MIME type of a picture from its first bytes, when a browser shows it."""
    for magic, mime in _MAGIC:
        if head.startswith(magic):
            return mime
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def _value_text(value: object) -> str:
    """A parameter value as shown: strings as they are, the rest as JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def _token(value: str) -> str:
    """``value`` reduced to letters, for a CSS class or data attribute."""
    return "".join(c for c in value.lower() if c.isascii() and c.isalpha())[:24] or "unknown"


def _pair(name: str, value: str, *, varied: bool) -> str:
    """A name and its value in a ``<dl>``, marked when the sweep varied it."""
    mark = ' class="varied"' if varied else ""
    return f"<dt{mark}>{_e(name)}</dt><dd{mark}>{_e(value)}</dd>"


class _Page:
    """Renders one page: knows the page's folder, for links, and the embedding budget."""

    def __init__(self, folder: Path, varied: tuple[str, ...]) -> None:
        self._folder = folder
        self._varied = varied
        self._budget = EMBED_BUDGET
        self._ids = 0

    def render(self, takes: list[ReviewTake], *, title: str, nonce: str) -> str:
        """The whole HTML document."""
        picked = sum(1 for t in takes if t.pick == "picked")
        failed = sum(1 for t in takes if _token(t.status) == "failed")
        summary = f"{len(takes)} takes · {picked} picked · {failed} failed"
        body = self._grid(takes) if self._varied else self._list(takes)
        csp = (
            "default-src 'none'; img-src data: file: http: https:; "
            "media-src data: file: http: https:; "
            f"style-src 'nonce-{nonce}'; script-src 'nonce-{nonce}'; "
            "base-uri 'none'; form-action 'none'"
        )
        return (
            "<!doctype html>\n"
            '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta http-equiv="Content-Security-Policy" content="{_e(csp)}">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            '<meta name="generator" content="comfycine review">\n'
            '<link rel="icon" href="data:,">\n'
            f"<title>{_e(title)}</title>\n"
            f'<style nonce="{nonce}">{STYLE}</style>\n</head>\n'
            f'<body data-filter="all" data-layout="{"grid" if self._varied else "list"}">\n'
            f'<header><h1>{_e(title)}</h1><p class="summary">{_e(summary)}</p>\n'
            '<fieldset class="filter"><legend>Show</legend>'
            '<label><input type="radio" name="filter" value="all" checked> all</label>'
            '<label><input type="radio" name="filter" value="picked"> picked</label>'
            '<label><input type="radio" name="filter" value="kept"> not rejected</label>'
            f'<output id="shown">{len(takes)} shown</output></fieldset></header>\n'
            f"<main>\n{body}</main>\n"
            f'<script nonce="{nonce}">{SCRIPT}</script>\n</body>\n</html>\n'
        )

    def _list(self, takes: list[ReviewTake]) -> str:
        """Takes one under the other, newest first."""
        ordered = sorted(takes, key=lambda t: t.created, reverse=True)
        items = "".join(f"<li>{self._take(t, compact=False)}</li>\n" for t in ordered)
        return f'<ol class="takes">\n{items}</ol>\n' if items else "<p>No takes.</p>\n"

    def _grid(self, takes: list[ReviewTake]) -> str:
        """A contact grid: columns by the last varied parameter, rows by the others."""
        *row_names, col_name = self._varied
        rows: dict[tuple[str, ...], None] = {}
        cols: dict[str, None] = {}
        cells: dict[tuple[tuple[str, ...], str], list[ReviewTake]] = {}
        strays: list[ReviewTake] = []
        # First appearance in submission order keeps the order the values were given in.
        for take in sorted(takes, key=lambda t: t.created):
            cell = take.cell or {}
            if any(name not in cell for name in self._varied):
                strays.append(take)
                continue
            row = tuple(cell[name] for name in row_names)
            rows.setdefault(row)
            cols.setdefault(cell[col_name])
            cells.setdefault((row, cell[col_name]), []).insert(0, take)
        head = "".join(f'<th scope="col">{_e(col_name)} = {_e(c)}</th>' for c in cols)
        corner = _e(" × ".join(row_names)) if row_names else ""
        lines = [f'<table class="grid">\n<thead><tr><th>{corner}</th>{head}</tr></thead>\n<tbody>']
        for row in rows:
            label = " · ".join(f"{n} = {v}" for n, v in zip(row_names, row, strict=True))
            tds = "".join(
                "<td>"
                + "".join(self._take(t, compact=True) for t in cells.get((row, c), []))
                + "</td>"
                for c in cols
            )
            lines.append(f'<tr><th scope="row">{_e(label)}</th>{tds}</tr>')
        lines.append("</tbody>\n</table>\n")
        if strays:
            lines.append("<h2>Not in the grid</h2>\n" + self._list(strays))
        return "\n".join(lines)

    def _take(self, take: ReviewTake, *, compact: bool) -> str:
        """One take's card: media, facts, parameters, pick, note and retake command."""
        self._ids += 1
        ident = f"take-{self._ids}"
        pick = take.pick if take.pick in ("picked", "rejected") else "none"
        status = _token(take.status)
        badges = (
            f'<span class="badge status-{status}">{_e(take.status)}</span>'
            f'<span class="badge pick-{pick}">{_e(take.pick or "no pick")}</span>'
        )
        # A take listed outside its sweep's grid still shows what its sweep varied.
        varied = set(self._varied or (take.cell or {}))
        facts = [("template", take.template or "—"), ("target", take.target)]
        if take.sweep:
            facts.append(("sweep", take.sweep))
        facts.extend((name, str(seed)) for name, seed in take.seeds.items())
        when = ""
        if take.created > 0:
            stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(take.created))
            when = f"<time>{_e(stamp)}</time>"
        parts = [
            f'<article class="take" id="{ident}" data-pick="{pick}" data-job="{_e(take.job)}">',
            f"<header><h3>{_e(take.job)}</h3>{badges}{when}</header>",
            self._media(take, compact=compact),
            '<dl class="facts">'
            + "".join(_pair(k, v, varied=k in varied) for k, v in facts)
            + "</dl>",
        ]
        if take.error or status == "failed":
            parts.append(
                f'<pre class="error">{_e(take.error or "failed, no error recorded")}</pre>'
            )
        if take.params:
            pairs = "".join(
                _pair(k, _value_text(v), varied=k in varied) for k, v in take.params.items()
            )
            state = "" if compact else " open"
            parts.append(
                f'<details class="params"{state}><summary>parameters</summary>'
                f"<dl>{pairs}</dl></details>"
            )
        if take.note:
            parts.append(f'<p class="note">{_e(take.note)}</p>')
        parts.append(
            f'<div class="retake"><code id="{ident}-cmd">{_e(take.retake_command)}</code>'
            f'<button type="button" class="copy" data-copy="{ident}-cmd">Copy</button></div>'
        )
        parts.append("</article>")
        return "\n".join(parts)

    def _media(self, take: ReviewTake, *, compact: bool) -> str:
        """Players and pictures of a take: outputs, poster, contact sheet."""
        out: list[str] = []
        poster_used = False
        for index, path in enumerate(take.files):
            suffix = path.suffix.lower()
            if not path.is_file():
                out.append(f'<p class="missing">missing: {_e(path.name)}</p>')
                continue
            if suffix in _VIDEO:
                poster = ""
                if take.poster is not None and not poster_used:
                    src = self._embed(take.poster)
                    poster_used = src is not None
                    poster = f' poster="{_e(src)}"' if src else ""
                out.append(
                    f'<video controls preload="metadata" src="{_e(self._link(path))}"{poster}>'
                    "</video>"
                )
            elif suffix in _AUDIO:
                out.append(
                    f'<audio controls preload="metadata" src="{_e(self._link(path))}"></audio>'
                )
            else:
                thumb = take.thumbnail if index == 0 else None
                src = (self._embed(thumb) if thumb is not None else None) or self._embed(path)
                if src is not None:
                    out.append(
                        f'<a href="{_e(self._link(path))}"><img src="{_e(src)}" '
                        f'alt="{_e(path.name)}"></a>'
                    )
            out.append(f'<a class="file" href="{_e(self._link(path))}">{_e(path.name)}</a>')
        if take.poster is not None and not poster_used:
            out.append(self._figure(take.poster, "poster"))
        if take.sheet is not None:
            sheet = self._figure(take.sheet, "contact sheet")
            out.append(
                f"<details><summary>contact sheet</summary>{sheet}</details>" if compact else sheet
            )
        return f'<div class="media">{"".join(out)}</div>'

    def _figure(self, path: Path, caption: str) -> str:
        """A captioned picture, or a line saying it cannot be shown."""
        src = self._embed(path)
        if src is None:
            return f'<p class="missing">{_e(caption)} not shown: {_e(path.name)}</p>'
        return (
            f'<figure><img src="{_e(src)}" alt="{_e(caption)}">'
            f"<figcaption>{_e(caption)}</figcaption></figure>"
        )

    def _embed(self, path: Path) -> str | None:
        """A ``data:`` URI for a small picture, a link for a big one.

        None when ``path`` is unreadable or no picture a browser shows (nothing to draw).
        """
        try:
            with path.open("rb") as handle:
                mime = _picture_type(handle.read(16))
                size = os.fstat(handle.fileno()).st_size
                if mime is None:
                    return None
                if size > EMBED_LIMIT or size > self._budget:
                    return self._link(path)
                handle.seek(0)
                data = handle.read()
        except OSError:
            return None
        self._budget -= len(data)
        return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"

    def _link(self, path: Path) -> str:
        """A URL for ``path`` relative to the page's folder, else a ``file://`` URI."""
        target = Path(path).absolute()
        try:
            relative = os.path.relpath(target, self._folder)
        except ValueError:  # another drive on Windows: no relative path exists
            return target.as_uri()
        return urllib.parse.quote(Path(relative).as_posix())
