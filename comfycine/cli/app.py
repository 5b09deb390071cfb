"""The Typer application: one module per command group, joined here.

Command modules import the library lazily inside their functions so that
``comfycine --help`` stays fast (no httpx, pydantic or websockets at start-up).
"""

from __future__ import annotations

import typer

from comfycine.cli.options import JsonOpt
from comfycine.cli.render import Output


def build_app() -> typer.Typer:
    """Assemble the application."""
    from comfycine import __version__
    from comfycine.cli import (
        commands,
        debug,
        jobs,
        server,
        workflow,
        workflow_script,
        workflow_tools,
    )
    from comfycine.cli.batch import batch
    from comfycine.cli.doctor import doctor
    from comfycine.cli.notify import notify
    from comfycine.cli.targets import targets

    app = typer.Typer(
        name="comfycine",
        help="Drive ComfyUI (your PC over Tailscale, or a local test server) for film work.\n\n"
        "Every command takes --json for one machine-readable envelope on stdout.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    jobs.register(app)
    debug.register(app)
    app.command("targets")(targets)
    app.command("install-commands")(commands.install_commands)
    app.command("batch")(batch)
    app.command("doctor")(doctor)
    app.command("notify")(notify)
    workflow_tools.register(workflow.app)
    workflow_script.register(workflow.app)
    app.add_typer(workflow.app, name="workflow")
    app.add_typer(server.app, name="server")
    from comfycine.cli import watch

    app.add_typer(watch.app, name="watch")
    from comfycine.cli import mobile

    app.add_typer(mobile.app, name="mobile")

    @app.command("version")
    def version(json: JsonOpt = False) -> None:
        """Print the comfycine version."""
        Output("version", as_json=json).success(
            {"version": __version__}, lambda out, d: out.write_stdout(d["version"])
        )

    return app
