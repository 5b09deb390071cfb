"""The fake Cloud's storage host: signed URLs on a separate port, watching for key leaks.

``GET /api/view`` answers a 302 to ``{storage_url}/signed/<token>/<filename>`` with a
GCS-like ``X-Goog-Signature`` query. A client must follow it *without* the API key
(PROTOCOL §5.1). Every storage request is recorded; one that carries the key, in a
header or anywhere in the URL, adds a violation, which the ``fake_cloud`` fixture turns
into a test failure.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from urllib.parse import quote

from aiohttp import web


@dataclass(frozen=True)
class StorageRequest:
    """One request the storage host received: method, full URL and headers."""

    method: str
    url: str
    headers: dict[str, str]


@dataclass
class Storage:
    """Signed links to stored bytes, plus the record of who fetched them and how."""

    api_key: str
    files: dict[str, bytes]
    base_url: str = ""
    links: dict[str, str] = field(default_factory=dict)
    requests: list[StorageRequest] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)

    def sign(self, filename: str) -> str:
        """Return a fresh signed URL for a stored file."""
        token = secrets.token_hex(8)
        self.links[token] = filename
        query = (
            "X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Expires=3600"
            f"&X-Goog-Signature={self._signature(token)}"
        )
        return f"{self.base_url}/signed/{token}/{quote(filename)}?{query}"

    def _signature(self, token: str) -> str:
        return hashlib.sha256(f"storage:{token}".encode()).hexdigest()

    def record(self, request: web.Request) -> None:
        """Remember a request and note every place where it carries the API key."""
        headers = {name: value for name, value in request.headers.items()}
        url = str(request.url)
        self.requests.append(StorageRequest(request.method, url, headers))
        if self.api_key in url:
            self.violations.append(f"API key in storage URL: {request.method} {request.path}")
        for name, value in headers.items():
            if name.lower() == "x-api-key" or self.api_key in value:
                self.violations.append(f"API key in storage request header {name!r}")

    async def serve(self, request: web.Request) -> web.StreamResponse:
        """``GET /signed/{token}/{filename}``: the bytes, if the signature matches."""
        self.record(request)
        token = request.match_info["token"]
        filename = self.links.get(token)
        signature = request.query.get("X-Goog-Signature")
        if filename is None or filename != request.match_info["filename"]:
            return _gcs_error(404, "NoSuchKey", "The specified key does not exist.")
        if signature != self._signature(token):
            return _gcs_error(403, "SignatureDoesNotMatch", "The request signature is invalid.")
        body = self.files[filename]
        return web.Response(body=body, content_type="image/png")

    def build_app(self) -> web.Application:
        """The storage host's aiohttp application."""
        app = web.Application()
        app.router.add_get("/signed/{token}/{filename}", self.serve)
        app.router.add_route("*", "/{tail:.*}", self._unknown)
        return app

    async def _unknown(self, request: web.Request) -> web.StreamResponse:
        self.record(request)
        return _gcs_error(404, "NoSuchKey", "The specified key does not exist.")


def _gcs_error(status: int, code: str, message: str) -> web.Response:
    """Answer like GCS does: an XML error document."""
    body = (
        "<?xml version='1.0' encoding='UTF-8'?>"
        f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    )
    return web.Response(status=status, text=body, content_type="application/xml")
