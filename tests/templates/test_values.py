"""Whole and decimal numbers accept the same digit forms, with clear errors otherwise."""

from __future__ import annotations

import pytest

from comfycine.templates.placeholders import Kind
from comfycine.templates.values import coerce_value

# (text, as INT, as FLOAT); None means refused.
FORMS: list[tuple[str, int | None, float | None]] = [
    ("12", 12, 12.0),
    (" 12 ", 12, 12.0),
    ("\t12\n", 12, 12.0),
    ("+5", 5, 5.0),
    ("-5", -5, -5.0),
    ("007", 7, 7.0),
    ("1_000", None, None),
    ("１２", None, None),  # full-width digits
    ("٣", None, None),  # Arabic-Indic three
    ("\u22125", None, None),  # a typographic minus
    ("", None, None),
    ("  ", None, None),
    ("+", None, None),
    ("12abc", None, None),
    ("0x10", None, None),
    ("1 000", None, None),
    ("3.5", None, 3.5),
    (".5", None, 0.5),
    ("5.", None, 5.0),
    ("-2.5", None, -2.5),
    ("1e3", None, 1000.0),
    ("1E-2", None, 0.01),
    ("nan", None, None),
    ("inf", None, None),
    ("1e999", None, None),
]


@pytest.mark.parametrize(("text", "whole", "_decimal"), FORMS)
def test_int_forms(text: str, whole: int | None, _decimal: float | None) -> None:
    """INT takes ASCII digits with an optional sign (spaces around stripped), else refuses."""
    if whole is None:
        with pytest.raises(ValueError, match=r"expects a whole number \(digits 0-9"):
            coerce_value(Kind.INT, text)
    else:
        assert coerce_value(Kind.INT, text) == whole


@pytest.mark.parametrize(("text", "_whole", "decimal"), FORMS)
def test_float_forms(text: str, _whole: int | None, decimal: float | None) -> None:
    """FLOAT takes the same digits, plus a decimal point and an exponent; finite only."""
    if decimal is None:
        with pytest.raises(ValueError, match=r"expects a number \(digits 0-9"):
            coerce_value(Kind.FLOAT, text)
    else:
        assert coerce_value(Kind.FLOAT, text) == decimal


def test_every_whole_number_form_is_a_decimal_form() -> None:
    """Whatever INT accepts, FLOAT accepts with the same value (one set of digits)."""
    for text, whole, decimal in FORMS:
        if whole is not None:
            assert decimal == float(whole), text


def test_json_numbers_pass_and_booleans_do_not() -> None:
    """Sidecar numbers come typed: ints and floats pass, true/false is not a number."""
    assert coerce_value(Kind.INT, 3) == 3 and coerce_value(Kind.FLOAT, 3) == 3.0
    for kind in (Kind.INT, Kind.FLOAT):
        with pytest.raises(ValueError):
            coerce_value(kind, True)
