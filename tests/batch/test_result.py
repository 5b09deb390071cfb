"""A batch's totals, ETA and the error reported when items failed."""

from __future__ import annotations

from pathlib import Path

from comfycine.batch.result import BatchItem, BatchResult


def result_with(*statuses: str, earlier: bool = False, dry_run: bool = False) -> BatchResult:
    """A result whose items stand at ``statuses``."""
    items = [
        BatchItem(Path(f"/in/{i}.png"), status=s, earlier=earlier, error="node_exception")
        for i, s in enumerate(statuses)
    ]
    return BatchResult("b1", "testblur", Path("/in"), items, dry_run=dry_run)


def test_eta_is_the_pace_so_far_times_what_is_left() -> None:
    """Two items finished in 10 s, three left: ETA 15 s; none finished yet: no ETA."""
    result = result_with("succeeded", "failed", "pending", "pending", "running", "skipped")
    totals = result.totals(elapsed=10.0)
    assert (totals["succeeded"], totals["failed"], totals["skipped"]) == (1, 1, 1)
    assert (totals["remaining"], totals["eta_seconds"]) == (3, 15.0)
    assert result_with("pending", "running").totals(elapsed=10.0)["eta_seconds"] is None


def test_earlier_outcomes_do_not_count_towards_the_pace() -> None:
    """Items done in an earlier run say nothing about this run's speed."""
    result = result_with("succeeded", "succeeded", earlier=True)
    result.items.append(BatchItem(Path("/in/x.png")))
    assert result.totals(elapsed=5.0)["eta_seconds"] is None


def test_failure_names_the_items_and_carries_the_data() -> None:
    """Failed items → batch_failed_items, exit 5, every item in details; none → None."""
    failure = result_with("succeeded", "failed").failure()
    assert failure is not None and failure.exit_code == 5
    assert "1.png (node_exception)" in failure.message
    assert [i["status"] for i in failure.details["items"]] == ["succeeded", "failed"]
    assert result_with("succeeded", "skipped").failure() is None


def test_dry_run_is_never_a_failure() -> None:
    """A dry run listing failed-earlier items still succeeds as a listing."""
    assert result_with("failed", earlier=True, dry_run=True).failure() is None


def test_earlier_failures_point_at_retry_failed() -> None:
    """Items that failed in an earlier run: the hint names --retry-failed."""
    failure = result_with("failed", earlier=True).failure()
    assert failure is not None and "--retry-failed" in failure.hint
