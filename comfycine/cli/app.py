"""The Typer application: one module per command group, joined here.

Command modules import the library lazily inside their functions so that
``comfycine --help`` stays fast (no httpx, pydantic or websockets at start-up). Turning
a registered command into a click command costs 2–20 ms (Typer evaluates every
parameter's annotation), so a run that names its command builds only that command
(``build_app("generate")``, ``build_app("workflow", "show")``), and a help that only
lists commands (``comfycine --help``, ``comfycine workflow``) builds them without their
parameters.
"""

from __future__ import annotations

import copy
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


def build_app(
    command: str | None = None, subcommand: str | None = None, *, listing: bool = False
) -> typer.Typer:
    """Assemble the application: every command, or only ``command`` when known (and in
    a group, only its ``subcommand`` when known).

    An unknown name builds everything, so that the error names the commands there are.
    ``listing``: the run only lists the commands of the root (no ``command``) or of the
    group ``command`` (no ``subcommand``), so those are built without parameters.
    """
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
    if chosen:
        _keep_only(app, command, subcommand, listing=listing and subcommand is None)
    elif listing and command is None:
        app.registered_commands = [_unparametered(c) for c in app.registered_commands]
        for group in app.registered_groups:
            if group.typer_instance is not None:
                group.typer_instance = _listed(group.typer_instance)
    return app


def _name(info: typer.models.CommandInfo) -> str | None:
    """The name a registered command is called by (Typer's rule for unnamed ones)."""
    if info.name:
        return info.name
    callback = info.callback
    return typer.main.get_command_name(callback.__name__) if callback is not None else None


def _keep_only(
    app: typer.Typer, command: str | None, subcommand: str | None, *, listing: bool
) -> None:
    """Leave out the named command's siblings, which would be built for nothing."""
    app.registered_commands = [c for c in app.registered_commands if _name(c) == command]
    for group in app.registered_groups:
        sub = group.typer_instance
        if sub is not None and listing:
            group.typer_instance = _listed(sub)
        if sub is None or not any(_name(c) == subcommand for c in sub.registered_commands):
            continue
        narrowed = copy.copy(sub)  # the group's module-level Typer stays whole
        narrowed.registered_commands = [
            c for c in sub.registered_commands if _name(c) == subcommand
        ]
        group.typer_instance = narrowed


def _listed(group: typer.Typer) -> typer.Typer:
    """A copy of ``group`` whose commands (and its groups') are built without parameters."""
    listed = copy.copy(group)
    listed.registered_commands = [_unparametered(c) for c in group.registered_commands]
    listed.registered_groups = []
    for info in group.registered_groups:
        info = copy.copy(info)
        if info.typer_instance is not None:
            info.typer_instance = _listed(info.typer_instance)
        listed.registered_groups.append(info)
    return listed


def _unparametered(info: typer.models.CommandInfo) -> typer.models.CommandInfo:
    """The command as a help listing shows it (name, help, flags), with no parameters."""
    callback = info.callback
    if callback is None:
        return info

    def listed() -> None:
        pass

    listed.__name__, listed.__doc__ = callback.__name__, callback.__doc__
    stand_in = copy.copy(info)
    stand_in.callback = listed
    return stand_in
