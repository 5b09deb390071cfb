"""``comfycine targets``: where jobs can run, and whether each answers right now."""

from __future__ import annotations

from typing import Any

from comfycine.cli.options import DebugOpt, JsonOpt, load_settings
from comfycine.cli.render import Output


def targets(json: JsonOpt = False, debug: DebugOpt = False) -> None:
    """List the targets (local, cloud, COMFYCINE_TARGETS) with their reachability."""
    import asyncio

    from comfycine.targets import check_targets

    settings = load_settings()
    output = Output("targets", as_json=json)
    rows = asyncio.run(check_targets(settings))

    def human(out: Output, data: dict[str, Any]) -> None:
        for row in data["targets"]:
            state = "ok" if row["ok"] else row["state"]
            about = row.get("version") or row.get("detail") or ""
            out.write_stdout(f"{row['name']:10} {state:12} {row['url']}  {about}")
            if not row["ok"] and row.get("hint"):
                out.info(f"  {row['name']}: {row['hint']}")

    output.success({"targets": rows}, human)
