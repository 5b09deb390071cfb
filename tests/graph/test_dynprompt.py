"""Dynamic prompts: comments out, ``{a|b}`` choices drawn, draws recorded and replayed."""

from __future__ import annotations

import pytest

from comfycine.graph.dynprompt import Draws, has_dynamic_syntax, resolve, strip_comments


def first(text: str) -> str:
    """``text`` resolved with the first option of every choice."""
    return resolve(text, Draws(0, replay=[0] * 50))


def test_line_and_block_comments_are_removed() -> None:
    """// runs to the end of the line (kept), /* */ may span lines."""
    assert strip_comments("a // b\nc /* d\ne */ f") == "a \nc  f"


def test_a_url_loses_its_tail_as_in_the_frontend() -> None:
    """The frontend reads "//" in a URL as a comment too."""
    assert first("see http://example.com/x") == "see http:"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a {red} fox", "a red fox"),
        ("{x|y} and {1|2|3}", "x and 1"),
        ("{{nested} {x|y}}", "nested x"),
        ("{a {b|c}|d}", "a b"),
        ("{} {|} .", "  ."),
        ("end {unclosed", "end unclosed"),
        ("no choice", "no choice"),
    ],
)
def test_choices_resolve_to_one_option(text: str, expected: str) -> None:
    """Each {...} becomes one of its options, nested choices resolved once chosen."""
    assert first(text) == expected


def test_escapes_keep_braces_and_bars_literal() -> None:
    """\\{ \\} \\| are literal; other escapes keep their backslash; a trailing one too."""
    assert first("\\{x\\} {a\\|b}") == "{x} a|b"
    assert first("back\\\\slash") == "back\\\\slash"
    assert first("ends\\") == "ends\\undefined"  # the frontend reads past the end


def test_draws_are_recorded_in_order_and_replayed() -> None:
    """The indices drawn make the same text again, whatever the seed."""
    text = "{a|b|c} {x|{y|z}} {p|q}"
    draws = Draws(7)
    once = resolve(text, draws)
    again = Draws(12345, replay=draws.drawn)
    assert resolve(text, again) == once and again.drawn == draws.drawn


def test_the_same_seed_draws_the_same_text() -> None:
    """A seed alone reproduces the text; different seeds reach every option."""
    text = "{a|b|c}"
    assert resolve(text, Draws("s:1")) == resolve(text, Draws("s:1"))
    assert {resolve(text, Draws(seed)) for seed in range(60)} == {"a", "b", "c"}


def test_a_replayed_index_out_of_range_is_drawn_afresh() -> None:
    """A recorded draw that no longer fits its choice is replaced by a new draw."""
    draws = Draws(3, replay=[5])
    assert resolve("{a|b}", draws) in ("a", "b") and draws.drawn[0] in (0, 1)


def test_dynamic_syntax_is_detected() -> None:
    """Plain text needs no resolving; braces, comments and escapes do."""
    assert not has_dynamic_syntax("a plain prompt, with commas")
    assert all(has_dynamic_syntax(t) for t in ("{a}", "x // y", "/* z */", "\\n"))
