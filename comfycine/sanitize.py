"""Make server-provided text safe to print, and keep secrets out of everything we write.

ComfyUI relays text from custom nodes and Python exceptions verbatim; a hostile or
broken node can put terminal escape sequences in it. Secrets are redacted by value
(the configured key and token, URL passwords) and by shape (``X-API-Key: …``,
``token=…``, ``http://user:…@host``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_SECRET_SHAPES = (
    re.compile(r"(?i)(x-api-key\s*[:=]\s*)([^\s,;&\"']+)"),
    re.compile(r"(?i)((?:[?&]|\b)(?:token|api_key|apikey|key)=)([^\s&\"']+)"),
    re.compile(r"(?i)(authorization\s*[:=]\s*(?:bearer\s+)?)([^\s,;\"']+)"),
    re.compile(r"(/bot)(\d{5,}:[A-Za-z0-9_-]{20,})"),
    # The password of scheme://user:password@host (a server behind basic auth).
    re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://[^\s/@:\"'\\]*:)([^\s/@\"'\\]+)(?=@)"),
)
REDACTED = "***"
_TITLE = re.compile(r"(?is)<title[^>]*>(.*?)</title>")
# extra_data keys that hold partner-node credentials (ComfyUI strips them from history too).
SECRET_KEYS = frozenset(
    {"api_key_comfy_org", "auth_token_comfy_org", "x-api-key", "api_key", "token", "authorization"}
)


def clean_text(text: str) -> str:
    """Replace control characters (escape sequences, bells) with visible escapes."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text.replace("\r\n", "\n"))


def one_line(text: str, limit: int = 300) -> str:
    """Server text as one line for a message: an HTML page's title, a Python traceback's
    last line, or the text with its whitespace collapsed; cut at ``limit`` characters.

    The full text belongs in the error's details; this is what the red line shows.
    """
    title = _TITLE.search(text)
    if title is not None:
        text = title.group(1)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if lines and lines[0].startswith("Traceback (most recent call last)"):
        lines = lines[-1:]
    flat = " ".join(" ".join(lines).split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """Remove known secret values and secret-shaped substrings from ``text``."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, REDACTED)
    for pattern in _SECRET_SHAPES:
        text = pattern.sub(lambda m: m.group(1) + REDACTED, text)
    return text


def scrub(value: Any) -> Any:
    """A copy of a JSON-like value without keys that hold secrets."""
    if isinstance(value, dict):
        return {k: scrub(v) for k, v in value.items() if str(k).lower() not in SECRET_KEYS}
    if isinstance(value, list):
        return [scrub(v) for v in value]
    return value
