"""The base of every stand-in object: a call the stand-in does not implement fails loudly.

The stand-in implements only the calls of Resolve's scripting README that the bridge
uses, with the README's argument and return types; anything else (a typo, an
undocumented call, a call the bridge should not make) raises AssertionError naming it.
"""

from __future__ import annotations

from typing import Any


class Undocumented(AssertionError):
    """The bridge asked the stand-in for something it does not implement."""


class Strict:
    """An object whose unknown attributes fail the test instead of answering None."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # Python's own protocol probes (copy, pickle)
            raise AttributeError(name)
        raise Undocumented(
            f"{type(self).__name__}.{name}: not a call the Resolve stand-in implements"
        )


def check(condition: bool, message: str) -> None:
    """Fail loudly when a call breaks the README's contract (types, ranges)."""
    if not condition:
        raise AssertionError(f"Resolve stand-in: {message}")


def is_int(value: object) -> bool:
    """An int, or a float holding one (the README types frames as int, some float/int)."""
    return (isinstance(value, int) and not isinstance(value, bool)) or (
        isinstance(value, float) and value.is_integer()
    )
