"""The lines batch draws for people: totals with ETA, one line per finished item."""

from __future__ import annotations

from comfycine.cli.batchview import item_line, totals_line


def test_totals_line_counts_and_eta() -> None:
    """Finished out of total, failures, what is left and the ETA as a clock."""
    totals = {
        "total": 10,
        "succeeded": 3,
        "failed": 1,
        "skipped": 1,
        "remaining": 5,
        "eta_seconds": 83.0,
    }
    assert totals_line(totals) == "5/10 done · 1 failed · 5 left · ETA 01:23"
    totals.update(failed=0, eta_seconds=None)
    assert totals_line(totals) == "4/10 done · 5 left"


def test_item_line_shows_output_or_reason() -> None:
    """A success points at its file; a failure or skip says why; earlier runs are marked."""
    done = {"name": "a.png", "status": "succeeded", "seconds": 2.0, "outputs": ["/o/a.png"]}
    assert item_line(done) == "✓ a.png succeeded 2.0 s → /o/a.png"
    failed = {
        "name": "b.png",
        "status": "failed",
        "seconds": None,
        "reason": "boom",
        "earlier": True,
    }
    assert item_line(failed) == "✗ b.png failed (earlier run): boom"
