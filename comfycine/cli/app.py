"""The Typer application: one module per command group, joined here.

Command modules import the library lazily inside their functions so that
``comfycine --help`` stays fast (no httpx, pydantic or websockets at start-up). Turning
every registered command into a click command costs ~1–2 ms each, so a run that names
its command builds only that command's group (``build_app("generate")``).
"""

from __future__ import annotations

from collections.abc import Callable

import typer

from comfycine.cli.options import JsonOpt
from comfycine.cli.render import Output


def _jobs(app: typer.Typer) -> None:
    from comfycine.cli import jobs

    jobs.register(app)


def _debug(app: typer.Typer) -> None:
    from comfycine.cli import debug

    debug.register(app)


def _targets(app: typer.Typer) -> None:
    from comfycine.cli.targets import targets

    app.command("targets")(targets)


def _install_commands(app: typer.Typer) -> None:
    from comfycine.cli.commands import install_commands

    app.command("install-commands")(install_commands)


def _batch(app: typer.Typer) -> None:
    from comfycine.cli.batch import batch

    app.command("batch")(batch)


def _doctor(app: typer.Typer) -> None:
    from comfycine.cli.doctor import doctor

    app.command("doctor")(doctor)


def _notify(app: typer.Typer) -> None:
    from comfycine.cli.notify import notify

    app.command("notify")(notify)


def _workflow(app: typer.Typer) -> None:
    from comfycine.cli import workflow, workflow_script, workflow_tools

    workflow_tools.register(workflow.app)
    workflow_script.register(workflow.app)
    app.add_typer(workflow.app, name="workflow")


def _server(app: typer.Typer) -> None:
    from comfycine.cli import server

    app.add_typer(server.app, name="server")


def _watch(app: typer.Typer) -> None:
    from comfycine.cli import watch

    app.add_typer(watch.app, name="watch")


def _mobile(app: typer.Typer) -> None:
    from comfycine.cli import mobile

    app.add_typer(mobile.app, name="mobile")


def _take(app: typer.Typer) -> None:
    from comfycine.cli.takes import retake, review, take

    app.command("take")(take)
    app.command("retake")(retake)
    app.command("review")(review)


def _conform(app: typer.Typer) -> None:
    from comfycine.cli.conform import conform

    app.command("conform")(conform)


def _resolve(app: typer.Typer) -> None:
    from comfycine.cli import resolve

    app.add_typer(resolve.app, name="resolve")


def _fix(app: typer.Typer) -> None:
    from comfycine.cli.fix import fix

    app.command("fix")(fix)


def _version(app: typer.Typer) -> None:
    from comfycine import __version__

    @app.command("version")
    def version(json: JsonOpt = False) -> None:
        """Print the comfycine version."""
        Output("version", as_json=json).success(
            {"version": __version__}, lambda out, d: out.write_stdout(d["version"])
        )


# In the order `comfycine --help` lists them; each name → the group that registers it.
_GROUPS: list[tuple[tuple[str, ...], Callable[[typer.Typer], None]]] = [
    (("generate", "wait", "status", "cancel"), _jobs),
    (("debug", "free"), _debug),
    (("targets",), _targets),
    (("install-commands",), _install_commands),
    (("batch",), _batch),
    (("take", "retake", "review"), _take),
    (("conform",), _conform),
    (("resolve",), _resolve),
    (("fix",), _fix),
    (("doctor",), _doctor),
    (("notify",), _notify),
    (("workflow",), _workflow),
    (("server",), _server),
    (("watch",), _watch),
    (("mobile",), _mobile),
    (("version",), _version),
]


def build_app(command: str | None = None) -> typer.Typer:
    """Assemble the application: every command, or only ``command``'s group when known."""
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

    @app.callback()
    def root() -> None:
        # A callback keeps the app a group even with one command registered (Typer
        # would otherwise run that lone command without its name).
        pass

    chosen = [register for names, register in _GROUPS if command in names]
    for register in chosen or [register for _, register in _GROUPS]:
        register(app)
    return app
