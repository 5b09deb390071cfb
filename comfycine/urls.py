"""Server URLs: checking them, and keeping the password of ``http://user:pw@host`` secret.

A ComfyUI behind a reverse proxy with basic auth is reached as
``http://user:password@host:8188``. The password is *used* (the clients send it as
basic auth) but never shown or stored: :func:`shown_url` is the URL as printed,
:func:`bare_url` the URL as stored (ledger, snapshots) and compared,
:func:`credentials` what the clients send, :func:`url_passwords` what redaction hides.

Standard library only: the error path of every command reads the passwords from here.
"""

from __future__ import annotations

import base64
import re
from urllib.parse import quote, unquote, urlsplit, urlunsplit

# scheme://user:password@ in free text: the password is group 2. Quotes and "@" end it,
# so that text around a URL (JSON, a sentence) is never eaten by the redaction.
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^\s/@:\"'\\]*:)([^\s/@\"'\\]*)(@)")
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
MASK = "***"


def shown_url(url: str) -> str:
    """``url`` as printed: ``http://user:***@host:8188`` (never raises, any text works)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        parts = None
    userinfo, hostport = _split_netloc(parts.netloc) if parts else (None, "")
    if parts is not None and userinfo is not None and ":" in userinfo:
        user = userinfo.partition(":")[0]
        return urlunsplit(parts._replace(netloc=f"{user}:{MASK}@{hostport}"))
    return _USERINFO.sub(lambda m: m.group(1) + MASK + m.group(3), url)


def _split_netloc(netloc: str) -> tuple[str | None, str]:
    userinfo, at, hostport = netloc.rpartition("@")
    return (userinfo if at else None), hostport


def bare_url(url: str) -> str:
    """``url`` without its user and password, for the ledger, caches and comparisons."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return shown_url(url)
    _, hostport = _split_netloc(parts.netloc)
    return urlunsplit(parts._replace(netloc=hostport))


def credentials(url: str) -> tuple[str, str] | None:
    """The ``(user, password)`` of ``url``, percent-decoded; None without userinfo."""
    try:
        netloc = urlsplit(url).netloc
    except ValueError:
        return None
    userinfo, _ = _split_netloc(netloc)
    if userinfo is None:
        return None
    user, _, password = userinfo.partition(":")
    return unquote(user), unquote(password)


def with_credentials(url: str, creds: tuple[str, str] | None) -> str:
    """``url`` (userinfo dropped) with ``creds`` put in, as given in the settings."""
    bare = bare_url(url)
    if creds is None:
        return bare
    parts = urlsplit(bare)
    userinfo = f"{quote(creds[0], safe='')}:{quote(creds[1], safe='')}"
    return urlunsplit(parts._replace(netloc=f"{userinfo}@{parts.netloc}"))


def basic_authorization(creds: tuple[str, str]) -> str:
    """The ``Authorization`` header value for basic auth with ``creds``."""
    token = base64.b64encode(f"{creds[0]}:{creds[1]}".encode()).decode("ascii")
    return f"Basic {token}"


def origin(url: str) -> tuple[str, str, int] | None:
    """``(scheme, host, port)`` with the scheme's default port; None when unparsable."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    return scheme, host, port if port is not None else _DEFAULT_PORTS.get(scheme, 0)


def url_passwords(text: str) -> list[str]:
    """Every password in ``text`` (one URL or a ``name=url,…`` list), raw and decoded."""
    found: list[str] = []
    raw = [m.group(2) for m in _USERINFO.finditer(text)]
    for token in re.split(r"[\s,]+", text):
        name, sep, rest = token.partition("=")
        url = rest if sep and "://" not in name else token
        userinfo = _split_netloc(url.partition("://")[2].partition("/")[0])[0]
        if "://" in url and userinfo and ":" in userinfo:
            raw.append(userinfo.partition(":")[2])
    for password in raw:
        for form in (password, unquote(password)):
            if form and form not in found:
                found.append(form)
    return found


def check_url(value: str) -> str:
    """``value`` stripped of spaces and a trailing ``/`` when it is a usable server URL.

    Raises ValueError saying what is wrong (without the value, which the caller shows
    through :func:`shown_url`): another scheme than http/https, spaces or control
    characters, no host, a malformed IPv6 address, a port that is not 1–65535.
    """
    text = value.strip()
    if not text.lower().startswith(("http://", "https://")):
        raise ValueError("it must start with http:// or https://")
    text = text.rstrip("/")
    if re.search(r"[\s\x00-\x1f\x7f]", text):
        raise ValueError("it must not contain spaces")
    try:
        parts = urlsplit(text)
    except ValueError as exc:
        raise ValueError(f"it is not a valid URL ({_reason(exc)})") from None
    _, hostport = _split_netloc(parts.netloc)
    if not parts.hostname:
        raise ValueError("it has no host name")
    if "[" in hostport and not hostport.startswith("["):
        raise ValueError("it is not a valid URL (malformed IPv6 address)")
    try:
        port = parts.port
    except ValueError:
        port = -1
    if port is not None and not 0 < port < 65536:
        raw = hostport.rpartition("]")[2].rpartition(":")[2]
        raise ValueError(f"its port {raw} is not a number from 1 to 65535")
    return text


def _reason(exc: ValueError) -> str:
    text = str(exc)
    return "malformed IPv6 address" if "IPv6" in text or "IPv4" in text else text
