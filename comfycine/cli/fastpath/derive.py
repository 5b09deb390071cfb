"""The fast path's table, read from the Typer declarations (for the script and tests).

``scripts/gen-fast-spec.py`` writes :func:`derive_spec`'s result into ``spec.py``; a
test derives it again and compares, so the table follows every change to a declared
option. A parameter the fast parser could not treat exactly as click does (a choice, a
counted flag, an environment variable, an eager option) stops the derivation.
"""

from __future__ import annotations

from typing import Any

# The commands an agent calls most (issue: agent round trips at the floor).
HOT = (("generate",), ("status",), ("wait",), ("workflow", "show"))
TYPES = {"str": "str", "int": "int", "float": "float"}


def click_command(words: tuple[str, ...]) -> Any:
    """The click command Typer builds for ``comfycine WORDS``."""
    import typer

    from comfycine.cli.app import build_app

    app = build_app(words[0], words[1] if len(words) > 1 else None, listing=False)
    command = typer.main.get_command(app)
    for word in words:
        if getattr(command, "name", None) == word and not hasattr(command, "commands"):
            break
        command = command.commands[word]  # type: ignore[attr-defined]
    return command


def derive_command(command: Any) -> dict[str, Any]:
    """One command's arguments, options (with the value each flag sets) and defaults."""
    arguments: list[list[Any]] = []
    options: dict[str, list[Any]] = {}
    multiple: list[str] = []
    defaults: dict[str, Any] = {}
    if not command.allow_interspersed_args or command.context_settings:
        raise ValueError(f"{command.name}: unusual parsing settings")
    for param in command.params:
        if param.envvar or param.is_eager or not param.expose_value or param.nargs == 0:
            raise ValueError(f"{command.name}: {param.name} is not a plain parameter")
        defaults[param.name] = param.default
        if param.param_type_name == "argument":
            if param.nargs not in (1, -1) or param.type.name != "str":
                raise ValueError(f"{command.name}: argument {param.name} is unusual")
            arguments.append([param.name, param.nargs, bool(param.required)])
            continue
        if getattr(param, "count", False) or param.required:
            raise ValueError(f"{command.name}: option {param.name} is unusual")
        if param.multiple:
            multiple.append(param.name)
        if param.is_flag:
            for opt in param.opts:
                options[opt] = [param.name, "true"]
            for opt in param.secondary_opts:
                options[opt] = [param.name, "false"]
            continue
        kind = TYPES.get(param.type.name)
        if kind is None or param.nargs != 1:
            raise ValueError(f"{command.name}: option {param.name} has type {param.type.name}")
        for opt in param.opts:
            options[opt] = [param.name, kind]
    return {"arguments": arguments, "options": options, "multiple": multiple, "defaults": defaults}


def derive_spec() -> dict[str, dict[str, Any]]:
    """The table of every hot command, keyed by its words (``"workflow show"``)."""
    return {" ".join(words): derive_command(click_command(words)) for words in HOT}
