"""``comfycine targets``: where jobs can run, and whether each answers right now."""

from __future__ import annotations

from typing import Any

from comfycine.cli.options import DebugOpt, JsonOpt, load_settings
from comfycine.cli.render import Output


def targets(json: JsonOpt = False, debug: DebugOpt = False) -> None:
    """List the targets (local, cloud, COMFYCINE_TARGETS) with their reachability."""
    # Each row names the credentials it sends (never their value); the warnings name
    # credential variables that match no target and credentials that travel in clear.
    import asyncio

    from comfycine.targetcheck import check_targets
    from comfycine.targets import auth_warnings

    settings = load_settings()
    output = Output("targets", as_json=json, secrets=lambda: settings.secret_values)
    rows = asyncio.run(check_targets(settings))
    warnings = auth_warnings(settings)

    def human(out: Output, data: dict[str, Any]) -> None:
        for row in data["targets"]:
            state = "ok" if row["ok"] else row["state"]
            about = row.get("version") or row.get("detail") or ""
            sends = f"  [{row['auth']}]" if row.get("auth") else ""
            kind = row.get("kind") or ""
            out.write_stdout(f"{row['name']:10} {state:12} {kind:10} {row['url']}  {about}{sends}")
            api = row.get("api") or {}
            if api and kind not in ("comfyui", "auto"):
                out.info("  " + "; ".join(f"{part}: {how}" for part, how in api.items()))
            if row.get("account"):
                out.info(f"  account: {row['account'].get('text')}")
            if not row["ok"] and row.get("hint"):
                out.info(f"  {row['name']}: {row['hint']}")
        for warning in data["warnings"]:
            out.info(f"warning: {warning}")

    output.success({"targets": rows, "warnings": warnings}, human)
