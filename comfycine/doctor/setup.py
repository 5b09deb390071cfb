"""The rungs about this machine's setup: configuration, templates, cloud key, notifications,
and the public-address warning.

``notify`` only reads the settings (nothing is ever sent); ``cloud`` makes a few cheap
authenticated calls (the key, then the account's plan and balance), and only when a key
is configured.
"""

from __future__ import annotations

import ipaddress
import os
import shlex
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..envnames import ENV_DOTENV
from ..errors import ComfycineError, ExitCode, TemplateInvalid
from ..settings import Settings, find_dotenv
from ..targets import Target, auth_warnings
from ..transport import ComfyClient
from ..urls import shown_url
from .checks import FAIL, OK, SKIP, WARN, Check, failed, skipped

_TAILSCALE_NETS = (
    ipaddress.ip_network("100.64.0.0/10"),
    ipaddress.ip_network("fd7a:115c:a1e0::/48"),
)
_NODE_CODES = frozenset({"unknown_node", "missing_custom_node"})
_LISTED = 3  # not-ready templates spelled out in the value; all are in details


def check_config(settings: Settings, target: Target, env: Mapping[str, str]) -> Check:
    """The ``config`` rung: where the settings came from, and what looks unset or wrong.

    The target's credentials are named (never their value); credential variables that
    match no target, and credentials that would travel in clear, are warnings.
    """
    check = _settings_check(settings, target, env)
    value = check.value
    if target.auth is not None:
        value += f"; sends {target.auth.describe()}"
    notes = auth_warnings(settings)
    if not notes:
        return Check("config", check.status, value, check.fix)
    fix = (
        "Rename or remove a variable that names no target; reach a remote target over "
        "https or Tailscale (comfycine targets lists them all)."
    )
    fixes = [check.fix] if check.status == WARN else []
    return Check("config", WARN, "; ".join([value, *notes]), " ".join([*fixes, fix]))


def _settings_check(settings: Settings, target: Target, env: Mapping[str, str]) -> Check:
    dotenv = find_dotenv(env)
    source = settings.sources.get("comfyui_url", "default")
    parts = [
        f"COMFYUI_URL {shown_url(settings.comfyui_url)} ({source})",
        f".env {dotenv}" if dotenv and dotenv.is_file() else "no .env",
        f"target {target.name}",
    ]
    value = "; ".join(parts)
    if env.get(ENV_DOTENV) and not (dotenv and dotenv.is_file()):
        return Check("config", WARN, value, f"{ENV_DOTENV} names a missing file: {dotenv}")
    if target.name == "local" and source == "default":
        fix = "Set COMFYUI_URL=http://<the PC's Tailscale address>:8188 in .env (see .env.example)."
        return Check("config", WARN, f"{value}; COMFYUI_URL is not set", fix)
    workflow_dir = settings.workflow_dir
    if workflow_dir is not None and not workflow_dir.is_dir():
        fix = "Create the folder, or fix COMFYCINE_WORKFLOW_DIR."
        return Check("config", WARN, f"{value}; no folder {workflow_dir}", fix)
    return Check("config", OK, value)


def config_failure(error: ComfycineError) -> Check:
    """The ``config`` rung for settings that cannot be used at all (exit 2)."""
    return Check("config", FAIL, error.message, error.hint, int(ExitCode.USAGE), error.code)


async def check_templates(settings: Settings, client: ComfyClient) -> Check:
    """The ``templates`` rung: which templates the server can run (nodes and models there).

    A template missing something is a warning, not a failure: the others still work.
    """
    from ..graph.catalog_source import load_catalog
    from ..preflight import LoadedWorkflow, check
    from ..templates import list_templates, read_template, template_dirs

    try:
        catalog = await load_catalog(client, settings.cache_dir)
    except ComfycineError as exc:
        return Check("templates", WARN, f"could not read the server's nodes: {exc.message}")
    rows: list[dict[str, Any]] = []
    for info in list_templates(template_dirs(settings.workflow_dir)):
        row: dict[str, Any] = {"name": info.name, "missing_models": 0, "missing_nodes": 0}
        try:
            template = read_template(info.path)
        except TemplateInvalid as exc:
            rows.append({**row, "ready": False, "other_problems": 1, "error": exc.message})
            continue
        loaded = LoadedWorkflow(template.name, template.graph, "template", info.path, template)
        codes = [p.code for p in check(loaded, catalog).problems]
        models = sum(c == "missing_model" for c in codes)
        nodes = sum(c in _NODE_CODES for c in codes)
        other = len(codes) - models - nodes
        row.update(missing_models=models, missing_nodes=nodes, other_problems=other)
        rows.append({**row, "ready": not codes})
    return _templates_check(rows, catalog.source)


def _templates_check(rows: list[dict[str, Any]], source: str) -> Check:
    ready = [r for r in rows if r["ready"]]
    waiting = [r for r in rows if not r["ready"]]
    parts = [f"{len(ready)}/{len(rows)} templates ready"]
    for row in waiting[:_LISTED]:
        if row.get("error"):
            parts.append(f"{row['name']}: unreadable")
            continue
        models, nodes = row["missing_models"], row["missing_nodes"]
        text = f"{row['name']}: missing {models} models, {nodes} nodes"
        if row["other_problems"]:
            text += f", {row['other_problems']} other problems"
        parts.append(text)
    if len(waiting) > _LISTED:
        parts.append(f"{len(waiting) - _LISTED} more")
    details = {"templates": rows, "catalog": source}
    if not waiting:
        return Check("templates", OK, parts[0], details=details)
    fix = f"See what is missing: comfycine workflow validate {waiting[0]['name']}"
    return Check("templates", WARN, "; ".join(parts), fix, details=details)


async def check_cloud(settings: Settings, timeout: float) -> Check:
    """The ``cloud`` rung: with a key configured, v2 (jobs) and v1 (catalog) both asked.

    Says which API serves each part: Comfy API v2 for jobs, v1 for the node catalog,
    model lists and this probe (v2 has none of those); and the account's plan and
    balance where the cloud tells them (``details.account``, with the rate estimates use).
    """
    if settings.cloud_api_key is None or not settings.cloud_api_key.get_secret_value():
        fix = "Optional: set COMFY_CLOUD_API_KEY (platform.comfy.org) to use Comfy Cloud."
        return Check("cloud", SKIP, "no COMFY_CLOUD_API_KEY", fix)
    from ..cloudcost import Rate
    from ..targetcheck import check_target
    from ..targets import CLOUD, named_targets

    rate = Rate.from_settings(settings)
    row = await check_target(named_targets(settings)[CLOUD], timeout=timeout, rate=rate)
    api = dict(row.get("api") or {})
    account = dict(row.get("account") or {})
    details = {"api": api, "v2": row.get("v2"), "account": account, "rate": rate.to_dict()}
    uses = "; ".join(f"{part}: {how}" for part, how in api.items())
    if row["ok"]:
        value = f"{row['url']}: key accepted; {row['detail']}. Uses {uses}"
        if account.get("text"):
            value += f". Account: {account['text']}"
        return Check("cloud", OK, value, details=details)
    if row["state"] == "auth":
        return failed(
            "cloud",
            str(row["detail"]),
            str(row.get("hint") or ""),
            exit_code=ExitCode.CLOUD_ACCOUNT,
            code="cloud_auth",
        )
    value = f"could not check the key at {row['url']}: {row['state']}: {row['detail']}"
    return Check("cloud", WARN, value, str(row.get("hint") or ""), details=details)


def check_notify(settings: Settings) -> Check:
    """The ``notify`` rung: a command or Telegram configured (nothing is sent)."""
    channels: list[str] = []
    problems: list[str] = []
    command = settings.notify_command
    if command:
        try:
            program = os.path.expanduser(shlex.split(command)[0])
        except (ValueError, IndexError):
            program = ""
        found = shutil.which(program) if program else None
        if found:
            channels.append(f"command {Path(found).name}")
        else:
            problems.append(f"the notify command {Path(program).name or '?'} is not executable")
    token, chat = settings.telegram_bot_token, settings.telegram_chat_id
    if token is not None and chat:
        channels.append("Telegram")
    elif token is not None or chat:
        problems.append("Telegram needs both TELEGRAM_BOT_TOKEN and TELEGRAM_CHAT_ID")
    value = "; ".join(channels + problems) or "no notification channel"
    if channels and not problems:
        return Check("notify", OK, value)
    fix = (
        "Set COMFYCINE_NOTIFY_COMMAND (e.g. ~/.claude/scripts/notify.sh, executable) or "
        "TELEGRAM_BOT_TOKEN and TELEGRAM_CHAT_ID in .env."
    )
    return Check("notify", WARN, value, fix)


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return False
    return True


def address_kind(text: str) -> str:
    """``public``, ``loopback``, ``Tailscale``, ``private`` or ``link-local`` for an IP."""
    address = ipaddress.ip_address(text.split("%", 1)[0])
    if address.is_loopback:
        return "loopback"
    if any(address in net for net in _TAILSCALE_NETS):
        return "Tailscale"
    if address.is_link_local:
        return "link-local"
    return "public" if address.is_global else "private"


def check_security(target: Target, host: str, addresses: list[str]) -> Check:
    """The ``security`` rung: warn when the ComfyUI URL points at a public address.

    ComfyUI has no authentication: anyone who reaches the port can run jobs and read
    files. Tailscale (or a private network) is the protection.
    """
    if target.is_cloud:
        return skipped("security", "Comfy Cloud (https, keyed)")
    if not addresses and _is_address(host):
        addresses = [host.strip("[]")]
    if not addresses:
        return skipped("security", f"the address of {host} is unknown")
    kinds = {address: address_kind(address) for address in addresses}
    public = [a for a, kind in kinds.items() if kind == "public"]
    if public:
        fix = (
            "ComfyUI has no authentication: reach the PC over Tailscale (its 100.x address "
            "or MagicDNS name) and never expose its port to the internet."
        )
        return Check("security", WARN, f"{host} is a public address ({public[0]})", fix)
    first = addresses[0]
    return Check("security", OK, f"{first}: {kinds[first]} address")
