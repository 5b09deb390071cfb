"""The fast path (cli/fastpath) parses the hot commands exactly as their Typer declarations.

Typer parses a line with the body replaced by a recorder; the fast parser's values must
be the same, or it must give the line up (None) so that Typer parses it.
"""

from __future__ import annotations

import inspect
import json
import random
from importlib import import_module
from typing import Any

import pytest

from comfycine.cli.fastpath import BODIES, fast_call
from comfycine.cli.fastpath.derive import HOT, click_command, derive_spec
from comfycine.cli.fastpath.parse import SPEC_FILE, load_spec, parse
from tests.cli_support import Isolation, invoke


def typer_values(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> tuple[str, dict[str, Any]]:
    """What the body receives when Typer parses ``argv`` (the body only records it)."""
    spec = load_spec()
    count = 2 if " ".join(argv[:2]) in spec else 1
    key = " ".join(argv[:count])
    module, name = BODIES[key]
    received: dict[str, Any] = {}
    monkeypatch.setattr(import_module(module), name, lambda **values: received.update(values))
    click_command(tuple(key.split())).main(
        args=argv[count:], prog_name="comfycine", standalone_mode=False
    )
    monkeypatch.undo()
    return key, received


def test_the_table_is_derived_from_the_declarations() -> None:
    """spec.json is what the Typer declarations give now (else: scripts/gen-fast-spec.py)."""
    assert json.loads(SPEC_FILE.read_text()) == json.loads(json.dumps(derive_spec()))


DECLARED = {
    "generate": ("comfycine.cli.jobs", "generate"),
    "status": ("comfycine.cli.jobs", "status"),
    "wait": ("comfycine.cli.jobs", "wait"),
    "workflow show": ("comfycine.cli.workflow", "show"),
}


@pytest.mark.parametrize("words", HOT, ids=" ".join)
def test_a_body_takes_the_declared_parameters(words: tuple[str, ...]) -> None:
    """Each body's keywords and defaults are its Typer declaration's, in order."""
    key = " ".join(words)
    signatures = [
        inspect.signature(getattr(import_module(module), name))
        for module, name in (BODIES[key], DECLARED[key])
    ]
    body, declared = ([(n, p.default) for n, p in s.parameters.items()] for s in signatures)
    assert body == declared


LINES = [
    ["generate", "testimage"],
    ["generate", "t", "a", "rainy", "street", "--set", "x=1", "-s", "y=2", "--detach", "--json"],
    ["generate", "t", "--prompt=dusk", "--seed", "5", "--seed", "6", "--timeout", "2.5"],
    ["generate", "t", "--vary", "seed=1,2", "--vary", "cfg=3..4", "--takes", "4", "--no-notify"],
    ["generate", "t", "--target", "cloud", "--allow-spend", "-t", "local", "--url", "http://h:1"],
    ["generate", "t", "-p", "-not-an-option", "--negative", "", "--tiled-vae", "--events"],
    ["generate", "t", "-", "--frames=81", "--width", "-5", "--image", "a.png", "--new-sweep"],
    ["status"],
    ["status", "last", "--json", "--limit=3", "--picks"],
    ["status", "--limit", "+7", "--target", "pc"],
    ["wait", "abc", "--timeout", "1e2", "--notify", "--transport", "poll", "--debug"],
    ["wait", "--json", "SWEEP:2"],
    ["workflow", "show", "testpattern", "--json"],
    ["workflow", "show", "--target", "x", "./mine.json"],
]


@pytest.mark.parametrize("argv", LINES, ids=" ".join)
def test_a_plain_line_parses_as_typer_parses_it(
    argv: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fast parser's values are Typer's, defaults included."""
    assert parse(argv) == typer_values(argv, monkeypatch)


REFUSED = [
    ["generate"],  # the template is missing: Typer's error
    ["generate", "--help"],
    ["status", "-h"],
    ["status", "a", "b"],
    ["status", "--limit", "x"],
    ["status", "--limit"],
    ["status", "--json=1"],
    ["status", "--jso"],  # click does not complete prefixes
    ["generate", "t", "-dj"],
    ["generate", "t", "--", "--seed"],
    ["wait", "--timeout", "soon", "j"],
    ["workflow", "show"],
    ["workflow", "list"],
    ["take", "pick", "x"],
    ["--json", "status"],
    [],
]


@pytest.mark.parametrize("argv", REFUSED, ids=lambda a: " ".join(a) or "(none)")
def test_any_other_line_is_left_to_typer(argv: list[str]) -> None:
    """Help, errors, clusters, other commands: no fast call, Typer answers."""
    assert parse(argv) is None
    assert fast_call(argv) is None


def random_line(rng: random.Random, key: str, command: dict[str, Any]) -> list[str]:
    """A plausible line for ``key``: its arguments, then options in any order and form."""
    words = key.split()
    names = list(command["options"])
    tail: list[str] = []
    for _name, nargs, required in command["arguments"]:
        count = rng.randint(0, 3) if nargs == -1 else (1 if required or rng.random() < 0.7 else 0)
        tail += [rng.choice(["a", "b-c", "x=1", "-", "é"]) for _ in range(count)]
    for _ in range(rng.randint(0, 6)):
        option = rng.choice(names)
        kind = command["options"][option][1]
        value = {"str": rng.choice(["v", "-v", "", "a b"]), "int": rng.choice(["3", "-2", "x"]),
                 "float": rng.choice(["0.5", "2", "-inf", "x"])}.get(kind)  # fmt: skip
        if value is None:
            tail.insert(rng.randint(0, len(tail)), option)
        elif option.startswith("--") and rng.random() < 0.5:
            tail.insert(rng.randint(0, len(tail)), f"{option}={value}")
        else:
            at = rng.randint(0, len(tail))
            tail[at:at] = [option, value]
    return words + tail


def test_random_lines_parse_as_typer_or_go_to_typer(monkeypatch: pytest.MonkeyPatch) -> None:
    """Over 400 generated lines, the fast values equal Typer's whenever it takes a line."""
    rng = random.Random(16)
    spec = load_spec()
    taken = 0
    for _ in range(400):
        key = rng.choice(list(spec))
        argv = random_line(rng, key, spec[key])
        fast = parse(argv, spec)
        if fast is None:
            continue
        taken += 1
        assert fast == typer_values(argv, monkeypatch), argv
    assert taken > 200  # most plain lines are taken


@pytest.mark.parametrize(
    "argv",
    [
        ["workflow", "show", "testpattern", "--json"],
        ["workflow", "show", "testpattern"],
        ["workflow", "show", "nosuchtemplate", "--json"],
        ["status", "--json"],
        ["status", "nosuchjob"],
        ["wait", "nosuchjob", "--json"],
    ],
    ids=" ".join,
)
def test_a_fast_line_prints_what_typer_prints(
    argv: list[str], isolation: Isolation, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Output and exit code are the same by the fast path and by Typer, errors included."""
    from comfycine.cli import fastpath

    fast = invoke(*argv)
    monkeypatch.setattr(fastpath, "fast_call", lambda argv: None)
    slow = invoke(*argv)
    assert (fast.exit_code, fast.stdout, fast.stderr) == (slow.exit_code, slow.stdout, slow.stderr)
