"""Dynamic prompts: comments and ``{a|b|c}`` choices, resolved as the frontend queues them.

A STRING widget whose spec says ``dynamicPrompts`` (CLIPTextEncode's ``text`` and the
other text encoders) is rewritten by ComfyUI's frontend each time it queues the graph:

* ``/* ... */`` and ``// ...`` (to the end of the line) are removed first;
* ``{a|b|c}`` becomes one of its options, drawn at random; options may hold further
  choices (``{a {x|y}|b}``), which are resolved the same way once chosen;
* a backslash keeps the next character as it is (``\\{``, ``\\|``, ``\\}`` are literal
  braces and bars; the backslash before them is dropped at the end).

The frontend draws with ``Math.random``. Here each choice is drawn from a
:class:`Draws`, which records every draw (the index of the option chosen, in the order
drawn) and can be given recorded draws back, so the same text is made again.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

# JavaScript's "." stops at any line terminator, not only "\n".
_COMMENTS = re.compile(r"/\*[\s\S]*?\*/|//[^\n\r\u2028\u2029]*")
_ESCAPED = re.compile(r"\\([{}|])")


@dataclass
class Draws:
    """Where choices come from: recorded draws first, then a seeded generator.

    ``drawn`` lists every index used, so that ``Draws(seed, replay=drawn)`` (or any seed
    with that replay) makes the same choices again. A recorded index out of range for
    its choice is drawn afresh.
    """

    seed: int | str
    replay: Sequence[int] = ()
    drawn: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def __call__(self, count: int) -> int:
        """An index below ``count`` for the next choice."""
        index = len(self.drawn)
        if index < len(self.replay) and 0 <= self.replay[index] < count:
            choice = int(self.replay[index])
        else:
            choice = self._rng.randrange(count)
        self.drawn.append(choice)
        return choice


def strip_comments(text: str) -> str:
    """``text`` without its ``/* */`` and ``//`` comments."""
    return _COMMENTS.sub("", text)


def has_dynamic_syntax(text: str) -> bool:
    """Whether resolving could change ``text`` (a comment, a choice or an escape)."""
    return any(mark in text for mark in ("{", "//", "/*", "\\"))


def resolve(text: str, draw: Draws) -> str:
    """``text`` with comments removed and every ``{...|...}`` choice drawn from ``draw``."""
    return _Resolver(strip_comments(text), draw).run()


class _Resolver:
    """One pass over a text, as the frontend's parser reads it (character by character)."""

    def __init__(self, text: str, draw: Draws) -> None:
        self.text = text
        self.draw = draw
        self.at = 0

    def _escape(self) -> str:
        # The frontend keeps the backslash and the next character; a trailing backslash
        # reads past the end, which JavaScript spells "undefined".
        following = self.text[self.at] if self.at < len(self.text) else "undefined"
        self.at += 1
        return "\\" + following

    def run(self) -> str:
        out: list[str] = []
        while self.at < len(self.text):
            char = self.text[self.at]
            self.at += 1
            if char == "\\":
                out.append(self._escape())
            elif char == "{":
                out.append(self._choice())
            else:
                out.append(char)
        return _ESCAPED.sub(r"\1", "".join(out))

    def _choice(self) -> str:
        """The option drawn from the block starting after a "{", itself resolved."""
        options: list[str] = []
        current: list[str] = []
        depth = 0
        while self.at < len(self.text):
            char = self.text[self.at]
            self.at += 1
            if char == "\\":
                current.append(self._escape())
                continue
            if char == "{":
                depth += 1
            elif char == "}":
                if not depth:
                    break
                depth -= 1
            elif char == "|" and not depth:
                options.append("".join(current))
                current = []
                continue
            current.append(char)
        options.append("".join(current))
        return resolve(options[self.draw(len(options))], self.draw)
