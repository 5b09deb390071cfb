"""Every environment name comfycine reads (DESIGN.md "Environment names"), in one place.

Kept free of heavy imports: the error path of every command reads the secret values
from here to redact them, including commands that never load the full settings.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping
from pathlib import Path

from .errors import UsageError
from .urls import url_passwords

# Aliases are read when the main one is unset.
ENV_COMFYUI_URL = "COMFYUI_URL"
ENV_CLOUD_URL = "COMFY_CLOUD_URL"
ENV_CLOUD_API_KEY = "COMFY_CLOUD_API_KEY"
ENV_WORKFLOW_DIR = "COMFYCINE_WORKFLOW_DIR"
ENV_WORKFLOW_DIR_ALIAS = "WORKFLOW_DIR"
ENV_OUTPUT_DIR = "COMFYCINE_OUTPUT_DIR"
ENV_EXCHANGE_DIR = "COMFYCINE_EXCHANGE_DIR"
ENV_DATA_DIR = "COMFYCINE_DATA_DIR"
ENV_CACHE_DIR = "COMFYCINE_CACHE_DIR"
ENV_NOTIFY_COMMAND = "COMFYCINE_NOTIFY_COMMAND"
ENV_TELEGRAM_BOT_TOKEN = "TELEGRAM_BOT_TOKEN"
ENV_TELEGRAM_CHAT_ID = "TELEGRAM_CHAT_ID"
ENV_TELEGRAM_API_URL = "COMFYCINE_TELEGRAM_API_URL"
ENV_DEBUG = "COMFYCINE_DEBUG"
ENV_TARGETS = "COMFYCINE_TARGETS"
ENV_TAILSCALE = "COMFYCINE_TAILSCALE"
ENV_DOTENV = "COMFYCINE_ENV_FILE"
ENV_OUTAGE_WINDOW = "COMFYCINE_OUTAGE_WINDOW"
ENV_TRANSPORT = "COMFYCINE_TRANSPORT"
ENV_STALL_AFTER = "COMFYCINE_STALL_AFTER"
ENV_CLOUD_API = "COMFYCINE_CLOUD_API"
ENV_SIDECARS = "COMFYCINE_SIDECARS"
ENV_CLOUD_RATE = "COMFYCINE_CLOUD_RATE"
ENV_CLOUD_CREDITS_PER_USD = "COMFYCINE_CLOUD_CREDITS_PER_USD"
# Claude Code's own (not a setting): its user folder when not ~/.claude. install-commands
# and doctor's claude rung look there, as Claude Code does.
ENV_CLAUDE_CONFIG_DIR = "CLAUDE_CONFIG_DIR"

# field name -> environment names, first match wins
ENV_NAMES: dict[str, tuple[str, ...]] = {
    "comfyui_url": (ENV_COMFYUI_URL,),
    "cloud_url": (ENV_CLOUD_URL,),
    "cloud_api_key": (ENV_CLOUD_API_KEY,),
    "workflow_dir": (ENV_WORKFLOW_DIR, ENV_WORKFLOW_DIR_ALIAS),
    "output_dir": (ENV_OUTPUT_DIR,),
    "exchange_dir": (ENV_EXCHANGE_DIR,),
    "data_dir": (ENV_DATA_DIR,),
    "cache_dir": (ENV_CACHE_DIR,),
    "notify_command": (ENV_NOTIFY_COMMAND,),
    "telegram_bot_token": (ENV_TELEGRAM_BOT_TOKEN,),
    "telegram_chat_id": (ENV_TELEGRAM_CHAT_ID,),
    "telegram_api_url": (ENV_TELEGRAM_API_URL,),
    "debug": (ENV_DEBUG,),
    "targets": (ENV_TARGETS,),
    "tailscale_cli": (ENV_TAILSCALE,),
    "outage_window": (ENV_OUTAGE_WINDOW,),
    "transport": (ENV_TRANSPORT,),
    "stall_after": (ENV_STALL_AFTER,),
    "cloud_api": (ENV_CLOUD_API,),
    "sidecars": (ENV_SIDECARS,),
    "cloud_rate": (ENV_CLOUD_RATE,),
    "cloud_credits_per_usd": (ENV_CLOUD_CREDITS_PER_USD,),
}


# Credentials of one target: COMFYCINE_TARGET_<NAME>_TOKEN (bearer), or _USER and
# _PASSWORD (basic auth). <NAME> is the target's name upper-cased, any other character
# than a letter or digit as "_" (studio-2 -> COMFYCINE_TARGET_STUDIO_2_TOKEN).
ENV_TARGET_PREFIX = "COMFYCINE_TARGET_"
ENV_TARGET_TOKEN_SUFFIX = "_TOKEN"
ENV_TARGET_USER_SUFFIX = "_USER"
ENV_TARGET_PASSWORD_SUFFIX = "_PASSWORD"
TARGET_AUTH_SUFFIXES = (ENV_TARGET_TOKEN_SUFFIX, ENV_TARGET_USER_SUFFIX, ENV_TARGET_PASSWORD_SUFFIX)
# The ones whose value is a secret (a user name is not, and is too common to redact).
_TARGET_SECRET_SUFFIXES = (ENV_TARGET_TOKEN_SUFFIX, ENV_TARGET_PASSWORD_SUFFIX)


def target_env_key(target: str) -> str:
    """The ``<NAME>`` part of a target's variables: ``studio-2`` -> ``STUDIO_2``."""
    return "".join(c if c.isascii() and c.isalnum() else "_" for c in target.upper())


def target_auth_env_names(target: str) -> tuple[str, str, str]:
    """The (token, user, password) variable names of ``target``."""
    base = ENV_TARGET_PREFIX + target_env_key(target)
    return (
        base + ENV_TARGET_TOKEN_SUFFIX,
        base + ENV_TARGET_USER_SUFFIX,
        base + ENV_TARGET_PASSWORD_SUFFIX,
    )


def split_target_auth_name(name: str) -> tuple[str, str] | None:
    """``(NAME, suffix)`` of a target credentials variable, None for any other name.

    ``COMFYCINE_TARGET_STUDIO_2_TOKEN`` -> ``("STUDIO_2", "_TOKEN")``.
    """
    if not name.startswith(ENV_TARGET_PREFIX):
        return None
    rest = name[len(ENV_TARGET_PREFIX) :]
    for suffix in TARGET_AUTH_SUFFIXES:
        if rest.endswith(suffix) and len(rest) > len(suffix):
            return rest[: -len(suffix)], suffix
    return None


def target_auth_variables(values: Mapping[str, str]) -> dict[str, str]:
    """The target credentials variables set (non-empty) in ``values``, name -> value."""
    return {k: v for k, v in values.items() if v and split_target_auth_name(k) is not None}


def _is_target_secret(name: str) -> bool:
    split = split_target_auth_name(name)
    return split is not None and split[1] in _TARGET_SECRET_SUFFIXES


SECRET_ENV_NAMES = (ENV_CLOUD_API_KEY, ENV_TELEGRAM_BOT_TOKEN)
# Settings that hold server URLs, whose ``user:password@`` part is a secret too.
URL_ENV_NAMES = (ENV_COMFYUI_URL, ENV_CLOUD_URL, ENV_TARGETS, ENV_TELEGRAM_API_URL)


def secret_values(env: Mapping[str, str]) -> tuple[str, ...]:
    """The configured secret values (environment, then the .env files), for redaction.

    Keys, tokens (the targets' ``COMFYCINE_TARGET_<NAME>_TOKEN`` and ``_PASSWORD`` too),
    and the passwords of server URLs (``http://user:pw@host``). Never
    raises: a .env that cannot be decoded is read with replacement characters here.
    """
    values = [env.get(name, "") for name in SECRET_ENV_NAMES]
    values.extend(value for name, value in env.items() if _is_target_secret(name))
    for name in URL_ENV_NAMES:
        values.extend(url_passwords(env.get(name, "")))
    candidates = [env.get(ENV_DOTENV, ""), ".env"]
    config_home = env.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    candidates.append(os.path.join(config_home, "comfycine", ".env"))
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            values.extend(_dotenv_secrets(Path(candidate)))
    return tuple(v for v in values if v and len(v) >= 4)


def _is_secret_name(name: str) -> bool:
    return name in SECRET_ENV_NAMES or _is_target_secret(name)


def _dotenv_secrets(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    found = []
    for line in text.splitlines():
        key, sep, value = line.strip().removeprefix("export ").partition("=")
        if sep and _is_secret_name(key.strip()):
            found.append(value.strip().strip("'\""))
        found.extend(url_passwords(line))
    # The values as the settings read them too (quotes, escapes, inline comments).
    from dotenv import dotenv_values

    parsed = dotenv_values(stream=io.StringIO(text), interpolate=False)
    found.extend(v for k, v in parsed.items() if v and _is_secret_name(k))
    return found


def read_dotenv_text(path: Path) -> str:
    """The text of a ``.env`` file, which must be UTF-8 (a BOM is allowed).

    Raises :class:`UsageError` (code ``invalid_dotenv``, exit 2) naming the file and
    the line of the first byte that is not UTF-8 (a file saved as Latin-1 or
    Windows-1252), or why the file cannot be read.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(
            f"Cannot read the settings file {path}: {exc.strerror or exc}.",
            code="invalid_dotenv",
            hint=f"Fix its permissions, or point {ENV_DOTENV} at another file.",
            details={"path": str(path)},
        ) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise UsageError(
            f"{path}:{line}: the settings file is not UTF-8 text "
            f"(byte 0x{data[exc.start]:02x}, as an editor saving Latin-1 or Windows-1252 "
            "writes accented letters).",
            code="invalid_dotenv",
            hint="Save the file with the UTF-8 encoding (Save As, Encoding: UTF-8), then retry.",
            details={"path": str(path), "line": line},
        ) from None


def dotenv_file_values(path: Path) -> dict[str, str]:
    """The key/value pairs of a ``.env`` file (no interpolation, no export to os.environ).

    Raises :class:`UsageError` (``invalid_dotenv``) as :func:`read_dotenv_text` does.
    """
    from dotenv import dotenv_values

    text = read_dotenv_text(path)
    values = dotenv_values(stream=io.StringIO(text), interpolate=False)
    return {k: v for k, v in values.items() if v is not None}


def quick_setting(field: str, env: Mapping[str, str]) -> str | None:
    """One setting from the environment or ./.env, without the full settings model.

    For fast paths (``workflow list``) that must not pay for pydantic; precedence is
    the same as :func:`comfycine.settings.resolve` minus flags.
    """
    names = ENV_NAMES[field]
    for name in names:
        if env.get(name):
            return env[name]
    dotenv = Path(env.get(ENV_DOTENV) or ".env")
    if dotenv.is_file():
        values = dotenv_file_values(dotenv)
        for name in names:
            if values.get(name):
                return values[name]
    return None
