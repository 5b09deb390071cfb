"""What the cloud will cost, through the CLI on the fake Comfy Cloud: the account in
``targets`` and ``doctor``, the estimate before ``generate``, a fallback and a batch."""

from __future__ import annotations

from pathlib import Path

import pytest

from comfycine.ledger import Ledger
from tests.batch.support import make_pngs
from tests.cli_support import Isolation, invoke
from tests.fakecloud.server import FakeCloud
from tests.fakecomfy.server import FakeComfy


@pytest.fixture
def cloud(
    isolation: Isolation, fake_cloud: FakeCloud, monkeypatch: pytest.MonkeyPatch
) -> FakeCloud:
    """An isolated CLI whose cloud is the fake Comfy Cloud and whose PC is off."""
    monkeypatch.setenv("COMFY_CLOUD_URL", fake_cloud.url)
    monkeypatch.setenv("COMFY_CLOUD_API_KEY", fake_cloud.api_key)
    monkeypatch.setenv("COMFYUI_URL", "http://127.0.0.1:9")
    return fake_cloud


def test_targets_shows_the_plan_and_balance(cloud: FakeCloud) -> None:
    """The cloud row carries the account (CREATOR, $12.50, 3 at once); the key never shows."""
    result = invoke("targets", "--json")
    assert result.exit_code == 0, result
    rows = {r["name"]: r for r in result.envelope()["data"]["targets"]}
    account = rows["cloud"]["account"]
    assert account["known"] and account["tier"] == "CREATOR"
    assert (account["balance_credits"], account["balance_usd"]) == (2637.5, 12.5)
    assert account["max_concurrent_jobs"] == 3
    asked = {path for _, path, _ in cloud.requests}
    assert {"/api/billing/status", "/api/billing/balance", "/api/features"} <= asked
    people = invoke("targets")
    assert "account: plan CREATOR (active), balance 2,638 credits ($12.50)" in people.stderr
    for text in (result.stdout, result.stderr, people.stdout, people.stderr):
        assert cloud.api_key not in text


def test_targets_account_unknown_without_billing_routes(cloud: FakeCloud) -> None:
    """A cloud without the billing routes: the row is still ok, the account unknown."""
    cloud.billing_status = cloud.billing_balance = cloud.features = None
    result = invoke("targets", "--json")
    assert result.exit_code == 0, result
    row = {r["name"]: r for r in result.envelope()["data"]["targets"]}["cloud"]
    assert row["ok"] and row["account"]["known"] is False
    assert "account: unknown" in invoke("targets").stderr


def test_doctor_cloud_rung_names_the_account(cloud: FakeCloud) -> None:
    """doctor --target cloud: the cloud rung's value and details carry plan and balance."""
    result = invoke("doctor", "--target", "cloud", "--json")
    checks = {c["name"]: c for c in result.envelope()["data"]["checks"]}
    rung = checks["cloud"]
    assert rung["status"] == "ok", rung
    assert "Account: plan CREATOR (active), balance 2,638 credits ($12.50)" in rung["value"]
    assert rung["details"]["account"]["tier"] == "CREATOR"
    assert rung["details"]["rate"]["credits_per_second"] == 0.266
    assert cloud.api_key not in result.stdout + result.stderr


def test_generate_on_the_cloud_quotes_before_and_learns_after(
    cloud: FakeCloud, isolation: Isolation
) -> None:
    """First cloud run: no history, the rate per minute; the second: the first's time."""
    first = invoke("generate", "testimage", "--target", "cloud", "--json")
    assert first.exit_code == 0, first
    estimate = first.envelope()["data"]["estimate"]
    assert estimate["basis"] == "no_history" and estimate["rate"]["credits_per_second"] == 0.266
    assert "no cloud run of testimage in the ledger yet" in first.stderr
    second = invoke("generate", "testimage", "--target", "cloud", "--json")
    assert second.exit_code == 0, second
    estimate = second.envelope()["data"]["estimate"]
    assert (estimate["basis"], estimate["runs"], estimate["same_size"]) == ("history", 1, True)
    with Ledger.open(isolation.data_dir / "ledger.sqlite3") as ledger:
        previous = ledger.get(first.envelope()["data"]["job"])
    assert previous is not None
    seconds = previous.extra["server_execution_ms"] / 1000
    assert estimate["seconds"] == pytest.approx(seconds, abs=0.1)
    assert "the median of 1 cloud run of testimage at this size" in second.stderr


def test_fallback_error_carries_the_estimate(cloud: FakeCloud) -> None:
    """PC off, no consent, no terminal: exit 3 with details.estimate beside the command."""
    result = invoke("generate", "testimage", "--json")
    assert result.exit_code == 3, result
    details = result.envelope()["error"]["details"]
    assert details["fallback"] == "cloud" and details["estimate"]["template"] == "testimage"
    assert details["estimate"]["basis"] == "no_history"
    assert cloud.v2_submits == []


def test_a_local_job_has_no_estimate(
    isolation: Isolation, fake_comfy: FakeComfy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A job that runs on the PC costs nothing: no estimate in its data."""
    monkeypatch.setenv("COMFYUI_URL", fake_comfy.url)
    result = invoke("generate", "testimage", "--json")
    assert result.exit_code == 0, result
    assert "estimate" not in result.envelope()["data"]


def test_batch_on_the_cloud_quotes_every_item(cloud: FakeCloud, tmp_path: Path) -> None:
    """batch --targets cloud: data.estimate for the items sent, told on stderr first."""
    folder = tmp_path / "in"
    make_pngs(folder, 3)
    dry = invoke("batch", str(folder), "testblur", "--targets", "cloud", "--dry-run", "--json")
    assert dry.exit_code == 0, dry
    estimate = dry.envelope()["data"]["estimate"]
    assert (estimate["jobs"], estimate["basis"], estimate["up_to"]) == (3, "no_history", False)
    assert "for each of 3 jobs" in dry.stderr
    ran = invoke("batch", str(folder), "testblur", "--targets", "cloud", "--json")
    assert ran.exit_code == 0, ran
    assert ran.envelope()["data"]["estimate"]["jobs"] == 3
    more = tmp_path / "more"
    make_pngs(more, 2)
    again = invoke(
        "batch", str(more), "testblur", "--targets", "local,cloud", "--dry-run", "--json"
    )
    estimate = again.envelope()["data"]["estimate"]
    assert (estimate["jobs"], estimate["basis"], estimate["up_to"]) == (2, "history", True)
    assert estimate["runs"] == 3 and "estimate: up to " in again.stderr
