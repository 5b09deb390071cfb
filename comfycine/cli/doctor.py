"""``comfycine doctor``: the ladder from this machine to ComfyUI, one line per rung."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from comfycine.cli.options import DebugOpt, JsonOpt, TargetOpt, UrlOpt
from comfycine.cli.render import Output

_MARKS = {"ok": "✓", "warn": "!", "fail": "✗", "skip": "-"}
_ASCII_MARKS = {"ok": "+", "warn": "!", "fail": "x", "skip": "-"}


def _marks() -> dict[str, str]:
    """The ✓/✗ marks, or ASCII ones when stdout cannot encode them (LANG=C)."""
    encoding = getattr(sys.stdout, "encoding", None)
    if encoding is None:  # an in-memory text stream
        return _MARKS
    try:
        "✓✗".encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return _ASCII_MARKS
    return _MARKS


def print_ladder(out: Output, data: dict[str, Any]) -> None:
    """One line per rung (mark, name, value), the fix indented below when there is one."""
    marks = _marks()
    out.write_stdout(f"doctor: target {data['target']} {data['url']}".rstrip())
    for check in data["checks"]:
        out.write_stdout(f"{marks[check['status']]} {check['name']:<10} {check['value']}")
        if check["fix"] and check["status"] != "ok":
            out.write_stdout(f"  {'':<10} fix: {check['fix']}")
    if data["ok"]:
        warnings = sum(1 for c in data["checks"] if c["status"] == "warn")
        tail = f" ({warnings} warning{'s' if warnings != 1 else ''})" if warnings else ""
        out.info(f"doctor: every required check passes{tail}.")


def doctor(
    deep: Annotated[
        bool, typer.Option("--deep", help="Also render a tiny test image end to end.")
    ] = False,
    target: TargetOpt = None,
    url: UrlOpt = None,
    json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Check configuration, Tailscale, network, ComfyUI, templates, cloud key, notifications.

    Exit 0 when no check fails (warnings pass); otherwise the exit code of the first
    failing check (3 for the network, 7 for the cloud key, 2 for the configuration).
    """
    import os

    from comfycine.doctor import run_doctor
    from comfycine.envnames import secret_values

    output = Output("doctor", as_json=json, secrets=lambda: secret_values(os.environ))
    report = run_doctor({"comfyui_url": url}, target=target, deep=deep)
    if report.ok:
        output.success(report.to_dict(), print_ladder)
        return
    if not json:
        print_ladder(output, report.to_dict())
    raise report.error()
