"""The fake Cloud's storage host: signed URLs on a separate port, watching for key leaks.

``GET /api/view`` and the v2 asset URLs point at ``{storage_url}/signed/<token>/<filename>``
with a GCS-like ``X-Goog-Signature`` query that expires after ``ttl`` seconds (then 403).
``Range`` is honoured (206 + ``Content-Range``, 416 when unsatisfiable). A client must
fetch these URLs *without* credentials (PROTOCOL §5.1). Every storage request is recorded;
one that carries the key (in a header or anywhere in the URL), an ``Authorization``
header or a cookie adds a violation, which the ``fake_cloud`` fixture turns into a test
failure.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from dataclasses import dataclass, field
from urllib.parse import quote

from aiohttp import web


@dataclass(frozen=True)
class StorageRequest:
    """One request the storage host received: method, full URL and headers."""

    method: str
    url: str
    headers: dict[str, str]


@dataclass(frozen=True)
class Link:
    """What a signed token grants: one file, until a deadline, with its content type."""

    filename: str
    expires: float
    content_type: str


# Headers that carry credentials, whatever their value.
CREDENTIAL_HEADERS = frozenset({"x-api-key", "authorization", "cookie"})
RANGE = re.compile(r"bytes=(\d*)-(\d*)")


@dataclass
class Storage:
    """Signed links to stored bytes, plus the record of who fetched them and how."""

    api_key: str
    files: dict[str, bytes]
    base_url: str = ""
    links: dict[str, Link] = field(default_factory=dict)
    requests: list[StorageRequest] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)

    def sign(self, filename: str, ttl: float = 3600, content_type: str = "image/png") -> str:
        """Return a fresh signed URL for a stored file, valid for ``ttl`` seconds."""
        token = secrets.token_hex(8)
        now = time.time()
        self.links[token] = Link(filename, now + ttl, content_type)
        date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
        query = (
            f"X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Date={date}&X-Goog-Expires={int(ttl)}"
            f"&X-Goog-Signature={self._signature(token)}"
        )
        return f"{self.base_url}/signed/{token}/{quote(filename)}?{query}"

    def _signature(self, token: str) -> str:
        return hashlib.sha256(f"storage:{token}".encode()).hexdigest()

    def record(self, request: web.Request) -> None:
        """Remember a request and note every place where it carries credentials."""
        headers = {name: value for name, value in request.headers.items()}
        url = str(request.url)
        self.requests.append(StorageRequest(request.method, url, headers))
        if self.api_key in url:
            self.violations.append(f"API key in storage URL: {request.method} {request.path}")
        for name, value in headers.items():
            if name.lower() == "x-api-key" or self.api_key in value:
                self.violations.append(f"API key in storage request header {name!r}")
            elif name.lower() in CREDENTIAL_HEADERS:
                self.violations.append(f"credential header {name!r} sent to storage")

    async def serve(self, request: web.Request) -> web.StreamResponse:
        """``GET /signed/{token}/{filename}``: the bytes (or a range), if signed and fresh."""
        self.record(request)
        token = request.match_info["token"]
        link = self.links.get(token)
        signature = request.query.get("X-Goog-Signature")
        if link is None or link.filename != request.match_info["filename"]:
            return _gcs_error(404, "NoSuchKey", "The specified key does not exist.")
        if signature != self._signature(token):
            return _gcs_error(403, "SignatureDoesNotMatch", "The request signature is invalid.")
        if time.time() >= link.expires:
            return _gcs_error(403, "AccessDenied", "Request has expired")
        body = self.files.get(link.filename)
        if body is None:
            return _gcs_error(404, "NoSuchKey", "The specified key does not exist.")
        headers = {"Accept-Ranges": "bytes"}
        wanted = request.headers.get("Range")
        if wanted is None:
            return web.Response(body=body, content_type=link.content_type, headers=headers)
        span = _span(wanted, len(body))
        if span is None:
            headers["Content-Range"] = f"bytes */{len(body)}"
            return web.Response(status=416, headers=headers)
        start, end = span
        headers["Content-Range"] = f"bytes {start}-{end}/{len(body)}"
        return web.Response(
            status=206, body=body[start : end + 1], content_type=link.content_type, headers=headers
        )

    def build_app(self) -> web.Application:
        """The storage host's aiohttp application."""
        app = web.Application()
        app.router.add_get("/signed/{token}/{filename}", self.serve)
        app.router.add_route("*", "/{tail:.*}", self._unknown)
        return app

    async def _unknown(self, request: web.Request) -> web.StreamResponse:
        self.record(request)
        return _gcs_error(404, "NoSuchKey", "The specified key does not exist.")


def _span(header: str, size: int) -> tuple[int, int] | None:
    """The inclusive byte span of a single-range ``Range`` header, or None (416)."""
    match = RANGE.fullmatch(header.strip())
    if match is None or match.groups() == ("", ""):
        return None
    first, last = match.groups()
    if first == "":
        start, end = max(size - int(last), 0), size - 1
    else:
        start = int(first)
        end = min(int(last), size - 1) if last else size - 1
    if start >= size or start > end:
        return None
    return start, end


def _gcs_error(status: int, code: str, message: str) -> web.Response:
    """Answer like GCS does: an XML error document."""
    body = (
        "<?xml version='1.0' encoding='UTF-8'?>"
        f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    )
    return web.Response(status=status, text=body, content_type="application/xml")
