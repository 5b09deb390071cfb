"""Parse an agent's usual command line as click would, or give up (None).

The table (``spec.json``) is derived from the Typer declarations. Only the plain forms
are taken: ``--name VALUE``, ``--name=VALUE``, ``-x VALUE``, flags, positional words.
Anything else — ``--help``, an unknown or clustered option, a value that does not
convert, a missing argument — returns None and Typer parses the line, so every error
message stays Typer's own.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SPEC_FILE = Path(__file__).with_name("spec.json")
_FLAGS = {"true": True, "false": False}


def load_spec() -> dict[str, dict[str, Any]]:
    """The table of the hot commands (see ``derive.py``)."""
    with SPEC_FILE.open(encoding="utf-8") as handle:
        spec: dict[str, dict[str, Any]] = json.load(handle)
    return spec


def command_words(argv: list[str], spec: dict[str, dict[str, Any]]) -> tuple[str, int] | None:
    """The hot command ``argv`` starts with, and how many words name it."""
    for count in (2, 1):
        key = " ".join(argv[:count])
        if len(argv) >= count and key in spec:
            return key, count
    return None


def parse(argv: list[str], spec: dict[str, dict[str, Any]] | None = None) -> Any:
    """``(command, values)`` as the Typer command would receive them, or None."""
    spec = load_spec() if spec is None else spec
    found = command_words(argv, spec)
    if found is None:
        return None
    key, count = found
    values = _parse_command(argv[count:], spec[key])
    return None if values is None else (key, values)


def _parse_command(tokens: list[str], command: dict[str, Any]) -> dict[str, Any] | None:
    options, multiple = command["options"], set(command["multiple"])
    values: dict[str, Any] = {}
    words: list[str] = []
    position = 0
    while position < len(tokens):
        token = tokens[position]
        position += 1
        if not token.startswith("-") or token == "-":
            words.append(token)
            continue
        name, equals, inline = token.partition("=") if token.startswith("--") else (token, "", "")
        if name not in options:
            return None  # --help, --, unknown or clustered options: Typer's to judge
        param, kind = options[name]
        if kind in _FLAGS:
            if equals:
                return None
            value: Any = _FLAGS[kind]
        else:
            if not equals:
                if position >= len(tokens):
                    return None
                inline = tokens[position]
                position += 1
            value = _convert(inline, kind)
            if value is None:
                return None
        if param in multiple:
            values.setdefault(param, []).append(value)
        else:
            values[param] = value  # click keeps the last of a repeated option
    if not _bind_words(words, command["arguments"], values):
        return None
    return {**command["defaults"], **values}


def _bind_words(words: list[str], arguments: list[list[Any]], values: dict[str, Any]) -> bool:
    """Positional words to the declared arguments, as click does; False if they do not fit."""
    for name, nargs, required in arguments:
        if nargs == -1:
            if words:
                values[name] = list(words)
            words = []
        elif words:
            values[name] = words.pop(0)
        elif required:
            return False
    return not words


def _convert(raw: str, kind: str) -> Any:
    """``raw`` as click's type would convert it, or None when click would refuse it."""
    if kind == "str":
        return raw
    try:
        return int(raw) if kind == "int" else float(raw)
    except ValueError:
        return None
