"""The error tree's helpers: hints joined as sentences."""

from __future__ import annotations

import pytest

from comfycine.errors import join_sentences


@pytest.mark.parametrize(
    ("parts", "joined"),
    [
        (
            ("Start ComfyUI, then retry", "Run it on the cloud."),
            "Start ComfyUI, then retry. Run it on the cloud.",
        ),
        (("Then retry.", "Run it."), "Then retry. Run it."),
        (
            ("See: comfycine status", "Or: comfycine wait abc"),
            "See: comfycine status. Or: comfycine wait abc",
        ),
        (
            ("To run it on Comfy Cloud (paid):", "comfycine generate x --target cloud"),
            "To run it on Comfy Cloud (paid): comfycine generate x --target cloud",
        ),
        (("Really?", "Yes!", "Go"), "Really? Yes! Go"),
        (("  Padded.  ", "  Text  "), "Padded. Text"),
        (("(see the docs)", "Then go"), "(see the docs). Then go"),
    ],
)
def test_join_sentences_puts_one_period_and_one_space(parts: tuple[str, ...], joined: str) -> None:
    """A period where a sentence lacks one, none after ':' or existing punctuation, one space."""
    assert join_sentences(*parts) == joined


def test_join_sentences_drops_empty_parts() -> None:
    """None and blank parts vanish; a lone part is returned as is, without a period added."""
    assert join_sentences(None, "", "  ", "Retry") == "Retry"
    assert join_sentences("Retry", None) == "Retry"
    assert join_sentences() == ""
