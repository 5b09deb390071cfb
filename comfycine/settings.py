"""Settings: resolution of every setting, flag > environment > .env > default.

The names live in :mod:`comfycine.envnames`; this module is the only one that reads
them. It is called once per command invocation; the resulting :class:`Settings` is
passed down explicitly.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, fields
from dataclasses import field as dataclass_field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from .envnames import (
    ENV_DOTENV,
    ENV_NAMES,
    ENV_TARGET_USER_SUFFIX,
    dotenv_file_values,
    split_target_auth_name,
    target_auth_env_names,
    target_auth_variables,
)
from .errors import UsageError
from .urls import check_url, shown_url, url_passwords

if TYPE_CHECKING:
    from pydantic import ValidationError

DEFAULT_COMFYUI_URL = "http://127.0.0.1:8188"
DEFAULT_CLOUD_URL = "https://cloud.comfy.org"
DEFAULT_TELEGRAM_API_URL = "https://api.telegram.org"
# The same values as transport.reconnect.DEFAULT_WINDOW and stall.DEFAULT_STALL_AFTER
# (not imported from there: settings load before any of the transport code).
DEFAULT_OUTAGE_WINDOW = 600.0
DEFAULT_STALL_AFTER = 1200.0
# Comfy Cloud's published GPU rate (credits per GPU second on its RTX 6000 Pro) and the
# fixed credit price. Sources: docs.comfy.org/tutorials/partner-nodes/pricing ("Cloud
# GPU", 0.266 since Comfy-Org/docs#1387) and docs.comfy.org/development/comfy-router/pricing
# ("1.00 USD = 211 credits"). Settings, so a new price needs no release.
DEFAULT_CLOUD_RATE = 0.266
DEFAULT_CLOUD_CREDITS_PER_USD = 211.0


def _home() -> Path:
    return Path(os.path.expanduser("~"))


def default_data_dir(env: Mapping[str, str]) -> Path:
    """Where the ledger lives when COMFYCINE_DATA_DIR is unset (XDG / macOS conventions)."""
    if sys.platform == "darwin":
        return _home() / "Library" / "Application Support" / "comfycine"
    base = env.get("XDG_DATA_HOME") or str(_home() / ".local" / "share")
    return Path(base) / "comfycine"


def default_cache_dir(env: Mapping[str, str]) -> Path:
    """Where built things (the local CPU ComfyUI) live when COMFYCINE_CACHE_DIR is unset."""
    if sys.platform == "darwin":
        return _home() / "Library" / "Caches" / "comfycine"
    base = env.get("XDG_CACHE_HOME") or str(_home() / ".cache")
    return Path(base) / "comfycine"


def default_config_dir(env: Mapping[str, str]) -> Path:
    """Where a user-wide ``.env`` may live."""
    base = env.get("XDG_CONFIG_HOME") or str(_home() / ".config")
    return Path(base) / "comfycine"


class SecretStr:
    """A secret setting: shown as ``**********``, read with :meth:`get_secret_value`.

    The same behaviour as pydantic's ``SecretStr`` (repr, str, equality), without
    importing pydantic on every command.
    """

    __slots__ = ("_secret_value",)

    def __init__(self, secret_value: str) -> None:
        self._secret_value = secret_value

    def get_secret_value(self) -> str:
        """The secret itself."""
        return self._secret_value

    def __str__(self) -> str:
        return "**********" if self._secret_value else ""

    def __repr__(self) -> str:
        return f"SecretStr({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SecretStr) and other._secret_value == self._secret_value

    def __hash__(self) -> int:
        return hash(self._secret_value)

    def __len__(self) -> int:
        return len(self._secret_value)


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Everything a command needs to know about its environment, resolved once.

    Built by :func:`resolve`, which checks every value; ``model_dump`` and
    ``model_dump_json`` give pydantic's dumps (secrets masked).
    """

    comfyui_url: str = DEFAULT_COMFYUI_URL
    cloud_url: str = DEFAULT_CLOUD_URL
    cloud_api_key: SecretStr | None = None
    workflow_dir: Path | None = None
    output_dir: Path
    exchange_dir: Path
    data_dir: Path
    cache_dir: Path
    notify_command: str | None = None
    telegram_bot_token: SecretStr | None = None
    telegram_chat_id: str | None = None
    # The Bot API base URL: tests, or a self-hosted Bot API server (bigger uploads).
    telegram_api_url: str = DEFAULT_TELEGRAM_API_URL
    debug: bool = False
    # Further named ComfyUI servers: COMFYCINE_TARGETS="studio=http://100.64.1.2:8188,..."
    targets: str | None = None
    # The Tailscale CLI, when it is neither on PATH nor in the macOS app bundle.
    tailscale_cli: str | None = None
    # How long a followed job's server may stay out of reach (seconds, > 0) before
    # giving up: hotel Wi-Fi and relayed Tailscale links drop for seconds to minutes.
    outage_window: float = DEFAULT_OUTAGE_WINDOW
    # How a job is followed: the event socket with polling as the fallback (auto), or
    # only one of the two (ws, poll).
    transport: Literal["auto", "ws", "poll"] = "auto"
    # A running job with no progress, queue or history change for this long (seconds,
    # > 0) is reported as stalled (never cancelled): long video nodes are silent for minutes.
    stall_after: float = DEFAULT_STALL_AFTER
    # Which Comfy Cloud API runs jobs: Comfy API v2 with v1 where v2 is not served
    # (auto), or one of them only. v1 is deprecated; it stays for what v2 lacks.
    cloud_api: Literal["auto", "v2", "v1"] = "auto"
    # A sidecar <file>.json with the recipe beside every output (the recipe is also
    # written inside PNG and video files): off for folders an editor watches strictly.
    sidecars: bool = True
    # What Comfy Cloud charges (cost estimates only; the service bills what it measures).
    cloud_rate: float = DEFAULT_CLOUD_RATE
    cloud_credits_per_usd: float = DEFAULT_CLOUD_CREDITS_PER_USD
    # Where each value came from ("flag", "env", ".env", "default"): shown by doctor.
    sources: dict[str, str] = dataclass_field(default_factory=dict)
    # COMFYCINE_TARGET_<NAME>_TOKEN / _USER / _PASSWORD, variable name -> value, each
    # from the environment, else .env (targets.py turns them into a TargetAuth).
    target_credentials: dict[str, SecretStr] = dataclass_field(default_factory=dict)

    @property
    def extra_targets(self) -> dict[str, str]:
        """The named targets of COMFYCINE_TARGETS, name -> URL."""
        found: dict[str, str] = {}
        for item in (self.targets or "").split(","):
            name, sep, url = item.partition("=")
            if sep and name.strip() and url.strip():
                found[name.strip().lower()] = url.strip().rstrip("/")
        return found

    @property
    def secret_values(self) -> tuple[str, ...]:
        """The configured secrets, to redact from anything written or printed.

        The key, the bot token, every target's token and password, and the password of
        every configured server URL.
        """
        values = [
            secret.get_secret_value()
            for secret in (self.cloud_api_key, self.telegram_bot_token)
            if secret is not None and secret.get_secret_value()
        ]
        for name, secret in self.target_credentials.items():
            if not name.endswith(ENV_TARGET_USER_SUFFIX) and secret.get_secret_value():
                values.append(secret.get_secret_value())
        for text in (self.comfyui_url, self.cloud_url, self.telegram_api_url, self.targets):
            values.extend(url_passwords(text or ""))
        return tuple(values)

    @property
    def ledger_path(self) -> Path:
        """The SQLite job ledger."""
        return self.data_dir / "ledger.sqlite3"

    def model_dump(self, **options: Any) -> dict[str, Any]:
        """pydantic's ``model_dump`` of these settings (secrets stay masked)."""
        from .settingsmodel import as_model

        return as_model(self).model_dump(**options)

    def model_dump_json(self, **options: Any) -> str:
        """pydantic's ``model_dump_json`` of these settings (secrets masked)."""
        from .settingsmodel import as_model

        return as_model(self).model_dump_json(**options)


def check_targets(value: str | None) -> str | None:
    """``COMFYCINE_TARGETS`` as given, or ValueError naming its first bad entry."""
    for item in (value or "").split(","):
        if not item.strip():
            continue
        name, sep, url = item.partition("=")
        entry = shown_url(item.strip())
        if not sep or not name.strip():
            raise ValueError(f"the entry {entry!r} is not name=http://host:port")
        try:
            check_url(url)
        except ValueError as exc:
            raise ValueError(f"in the entry {entry!r}, {exc}") from None
    return value


def expand_dir(value: Path | None) -> Path | None:
    """A directory setting with ``~`` expanded."""
    return None if value is None else Path(os.path.expanduser(str(value)))


_URL_FIELDS = frozenset({"comfyui_url", "cloud_url", "telegram_api_url"})
_DIR_FIELDS = frozenset({"workflow_dir", "output_dir", "exchange_dir", "data_dir", "cache_dir"})
_TEXT_FIELDS = frozenset({"notify_command", "telegram_chat_id", "targets", "tailscale_cli"})
_SECRET_FIELDS = frozenset({"cloud_api_key", "telegram_bot_token"})
_BOOL_FIELDS = frozenset({"debug", "sidecars"})
_POSITIVE_FIELDS = frozenset(
    {"outage_window", "stall_after", "cloud_rate", "cloud_credits_per_usd"}
)
_CHOICES = {"transport": ("auto", "ws", "poll"), "cloud_api": ("auto", "v2", "v1")}
_PLAIN_NUMBER = re.compile(r"[0-9]+(\.[0-9]+)?")


def _plain_value(name: str, value: Any) -> Any:
    """The field's value when ``value`` is plainly valid, else ValueError.

    Plainly valid means what every release of pydantic takes the same way; anything
    else (and every error) goes to the pydantic model, for its exact checks and messages.
    """
    if name in _URL_FIELDS and isinstance(value, str):
        return check_url(value)
    if name in _DIR_FIELDS and (isinstance(value, Path) or (isinstance(value, str) and value)):
        return expand_dir(Path(value))
    if name in _TEXT_FIELDS and isinstance(value, str):
        return check_targets(value) if name == "targets" else value
    if name in _SECRET_FIELDS and isinstance(value, str):
        return SecretStr(value)
    if name in _BOOL_FIELDS and isinstance(value, bool):
        return value
    if name in _POSITIVE_FIELDS:
        number = (
            float(value) if isinstance(value, str) and _PLAIN_NUMBER.fullmatch(value) else value
        )
        if isinstance(number, float) and number > 0:
            return number
    if name in _CHOICES and value in _CHOICES[name]:
        return value
    raise ValueError(name)


def _build(values: Mapping[str, Any], **rest: Any) -> Settings:
    """The settings from plainly valid ``values``; ValueError when one is not."""
    names = {f.name for f in fields(Settings)}
    return Settings(**{k: _plain_value(k, v) for k, v in values.items() if k in names}, **rest)


def find_dotenv(env: Mapping[str, str], cwd: Path | None = None) -> Path | None:
    """The ``.env`` to read: COMFYCINE_ENV_FILE, else ./.env, else the config dir's."""
    explicit = env.get(ENV_DOTENV)
    if explicit:
        return Path(explicit)
    for candidate in ((cwd or Path.cwd()) / ".env", default_config_dir(env) / ".env"):
        if candidate.is_file():
            return candidate
    return None


def read_dotenv(path: Path | None) -> dict[str, str]:
    """The key/value pairs of a ``.env`` file (no interpolation, no export to os.environ).

    Raises :class:`UsageError` (``invalid_dotenv``) for a file that is not UTF-8.
    """
    if path is None or not path.is_file():
        return {}
    return dotenv_file_values(path)


def _lookup(names: tuple[str, ...], source: Mapping[str, str]) -> tuple[str, str] | None:
    for name in names:
        value = source.get(name)
        if value:
            return name, value
    return None


# The command-line flags that set a field, named in errors instead of the variable.
_FLAG_NAMES = {"comfyui_url": "--url", "exchange_dir": "--exchange", "transport": "--transport"}


def _invalid(
    exc: ValidationError, labels: Mapping[str, str], sources: Mapping[str, str]
) -> UsageError:
    """One line naming each bad setting and its value (passwords masked, secrets hidden)."""
    lines, fields = [], []
    for err in exc.errors():
        field = str(err["loc"][0]) if err["loc"] else ""
        fields.append(field)
        label = labels.get(field, field)
        message = str(err["msg"]).removeprefix("Value error, ")
        value = err.get("input")
        # The targets message quotes the bad entry itself; secrets are never shown.
        if field in _SECRET_FIELDS or field == "targets" or not isinstance(value, str | int):
            lines.append(f"{label}: {message}")
        else:
            lines.append(f"{label}={shown_url(str(value))!r}: {message}")
    where = _WHERE.get(sources.get(fields[0], "") if fields else "", "the setting")
    example = " (a server URL looks like http://100.64.1.2:8188)" if "url" in fields[0] else ""
    return UsageError(
        "Invalid setting " + "; ".join(lines) + ".",
        hint=f"Fix {where}{example}; .env.example lists every setting.",
        code="invalid_setting",
        details={"settings": fields},
    )


_WHERE = {
    "flag": "the flag",
    "env": "the environment variable",
    ".env": "the line of the .env file",
}


def resolve(
    flags: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    dotenv_path: Path | None = None,
    *,
    read_dotenv_file: bool = True,
) -> Settings:
    """Build the settings: flag > environment > ``.env`` > default.

    ``flags`` holds field names with values given on the command line (None = not given).
    """
    env = dict(os.environ if env is None else env)
    dotenv_file = (dotenv_path or find_dotenv(env)) if read_dotenv_file else None
    dotenv = read_dotenv(dotenv_file)
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    labels: dict[str, str] = {}
    for field, names in ENV_NAMES.items():
        flag_value = (flags or {}).get(field)
        if flag_value is not None:
            values[field], sources[field] = flag_value, "flag"
            labels[field] = _FLAG_NAMES.get(field, field)
        elif (found := _lookup(names, env)) is not None:
            (labels[field], values[field]), sources[field] = found, "env"
        elif (found := _lookup(names, dotenv)) is not None:
            (name, values[field]), sources[field] = found, ".env"
            labels[field] = f"{name} (in {dotenv_file})"
    exchange = Path(values.get("exchange_dir") or _home() / "ComfyUI-Exchange")
    values.setdefault("exchange_dir", exchange)
    values.setdefault("output_dir", Path(os.path.expanduser(str(exchange))) / "renders")
    values.setdefault("data_dir", default_data_dir(env))
    values.setdefault("cache_dir", default_cache_dir(env))
    if "notify_command" not in values:
        script = _home() / ".claude" / "scripts" / "notify.sh"
        if script.is_file():
            values["notify_command"] = str(script)
    for flag in ("debug", "sidecars"):
        if isinstance(values.get(flag), str):
            values[flag] = values[flag].strip().lower() in {"1", "true", "yes", "on"}
    for field in ENV_NAMES:
        sources.setdefault(field, "default")
    credentials = target_auth_variables(dotenv)
    credentials.update(target_auth_variables(env))
    _check_target_credentials(credentials, env, dotenv_file)
    secrets = {name: SecretStr(value) for name, value in credentials.items()}
    try:
        return _build(values, sources=sources, target_credentials=secrets)
    except ValueError:
        pass
    # A value not plainly valid: pydantic decides, with its own messages.
    from pydantic import ValidationError

    from .settingsmodel import validated

    try:
        return validated(values, sources=sources, target_credentials=secrets)
    except ValidationError as exc:
        raise _invalid(exc, labels, sources) from None


def _check_target_credentials(
    credentials: Mapping[str, str], env: Mapping[str, str], dotenv_file: Path | None
) -> None:
    """Refuse credentials that cannot be sent: both kinds for one target, half a pair,
    a token with spaces or control characters, a user name with ``:``.

    The message names the variables (and the .env file they are in), never a value.
    """
    for name in sorted(credentials):
        split = split_target_auth_name(name)
        if split is None:
            continue
        token, user, password = target_auth_env_names(split[0])
        given = [n for n in (token, user, password) if n in credentials]
        problem = ""
        if token in given and len(given) > 1:
            problem = (
                f"{' and '.join(given)} are set together: a target takes a token, or a "
                "user and password, not both"
            )
        elif (user in given) != (password in given):
            have, missing = (user, password) if user in given else (password, user)
            problem = f"{have} is set without {missing}: basic auth needs both"
        elif token in given and not _header_safe(credentials[token]):
            problem = f"{token}: a token must be printable ASCII without spaces"
        elif user in given and (":" in credentials[user] or not _header_safe(credentials[user])):
            problem = f"{user}: a user name must not hold ':', spaces or control characters"
        if problem:
            from_dotenv = [n for n in given if n not in env]
            where = f"the .env file ({dotenv_file})" if from_dotenv else "the environment"
            raise UsageError(
                f"Invalid setting {problem}.",
                hint=f"Fix {where}; .env.example lists the settings of a target.",
                code="invalid_setting",
                details={"settings": given},
            )


def _header_safe(value: str) -> bool:
    return value.isascii() and value.isprintable() and " " not in value
