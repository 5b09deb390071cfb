"""``%Node.widget%`` and ``%date:...%`` expansion, and JavaScript's way of writing values."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from comfycine.graph.textreplace import NamedNode, expand, format_date, js_number, js_string

NOW = datetime(2026, 3, 4, 5, 6, 7)
NODES = [
    NamedNode("EmptyImage", "Muted one", {"width": 8}),
    NamedNode("Sampler", "KSampler", {"seed": 123, "cfg": 7.0, "sampler_name": "dpm/2"}),
    NamedNode(None, "Shared", {"width": 16}),
    NamedNode("Shared", "Other title", {"width": 32}),
    NamedNode(None, "Odd", {"text": 'a<b>:c*"d"|e?\\f\x01'}),
]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("%Sampler.seed%_%Sampler.cfg%", "123_7"),
        ("%Shared.width%", "32"),  # the S&R name wins over a title
        ("%KSampler.seed%", "123"),  # a title when no S&R name matches
        ("%EmptyImage.width%", "8"),  # muted nodes count
        ("%Sampler.sampler_name%", "dpm_2"),
        ("%Odd.text%", "a_b__c__d__e__f_"),
        ("%Nope.x%_%Sampler.nope%_%width%_%a.b.c%", "%Nope.x%_%Sampler.nope%_%width%_%a.b.c%"),
        ("100%", "100%"),
    ],
)
def test_references_expand_as_in_the_frontend(text: str, expected: str) -> None:
    """Found references become the widget's value made safe; others stay as written."""
    assert expand(text, NODES, NOW) == expected


def test_expanded_values_are_not_expanded_again() -> None:
    """A value holding %...% is inserted as it is."""
    nodes = [NamedNode("Save", "Save", {"filename_prefix": "%Sampler.seed%"}), *NODES]
    assert expand("%Save.filename_prefix%", nodes, NOW) == "%Sampler.seed%"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("%date:yyyy-MM-dd%", "2026-03-04"),
        ("%date:yy-M-d h:m:s%", "26-3-4 5:6:7"),
        ("%date:hhmmss%", "050607"),
        ("%date:yyy%_%date:ddd%", "yyy_044"),
        ("%date:yyyy.MM.dd%", "2026"),  # a dot splits the format: the frontend keeps yyyy
        ("%date:yyyy.MM%", "%date:yyyy.MM%"),  # two parts: read as a widget reference
    ],
)
def test_dates_expand_as_in_the_frontend(text: str, expected: str) -> None:
    """%date:FORMAT% fills its parts from the clock, with the frontend's quirks."""
    assert expand(text, NODES, NOW) == expected


def test_format_date_leaves_other_letters() -> None:
    """Only the date parts are replaced."""
    assert format_date("at hh o'clock, Y", NOW) == "at 05 o'clock, Y"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (7.0, "7"),
        (0.1, "0.1"),
        (1e-7, "1e-7"),
        (1e-6, "0.000001"),
        (1.5e-7, "1.5e-7"),
        (1e21, "1e+21"),
        (1e20, "100000000000000000000"),
        (123456789.125, "123456789.125"),
        (-2.5, "-2.5"),
        (float("nan"), "NaN"),
    ],
)
def test_numbers_are_written_as_javascript_writes_them(value: float, expected: str) -> None:
    """String(n) in JavaScript: no ".0", exponents from 1e21 and below 1e-6."""
    assert js_number(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, ""),
        (True, "true"),
        (5, "5"),
        (2**64 - 1, "18446744073709552000"),
        (["a", None, 1.0], "a,,1"),
        ({"a": 1}, "[object Object]"),
        ("text", "text"),
    ],
)
def test_values_become_text_as_in_javascript(value: Any, expected: str) -> None:
    """(value ?? '') + '': nothing is empty, lists join with commas, big ints as doubles."""
    assert js_string(value) == expected
