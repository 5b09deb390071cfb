"""Cloud cost: the rate, the account's balance and plan, and estimates from the ledger."""

from __future__ import annotations

import asyncio
import itertools
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from comfycine.cloudcost import (
    Rate,
    estimate_jobs,
    estimate_template_job,
    fetch_account,
    read_account,
    render_seconds,
)
from comfycine.cloudcost.account import balance_micros
from comfycine.errors import TargetUnreachable, UsageError
from comfycine.generation import with_fallback
from comfycine.ledger import JobRecord, Ledger
from comfycine.results import JobResult
from comfycine.settings import Settings, resolve
from comfycine.transport.cloud import CloudClient

KEY = "comfyui-cost-test-key-0123456789"
_ids = itertools.count()


def settings_for(tmp_path: Path, env: dict[str, str] | None = None) -> Settings:
    """Settings from flags and ``env`` only, writing under ``tmp_path``."""
    base = {
        "data_dir": tmp_path / "data",
        "cache_dir": tmp_path / "cache",
        "output_dir": tmp_path / "out",
        "exchange_dir": tmp_path / "exchange",
    }
    return resolve(base, env={"HOME": str(tmp_path), **(env or {})}, read_dotenv_file=False)


def cloud_job(
    seconds: float | None,
    *,
    template: str = "wan",
    target: str = "cloud",
    status: str = "succeeded",
    params: dict[str, Any] | None = None,
    how: str = "execution_ms",
) -> JobRecord:
    """A finished job whose render took ``seconds`` (measured the way ``how`` says)."""
    extra: dict[str, Any] = {}
    started = finished = None
    if seconds is not None and how == "execution_ms":
        extra["server_execution_ms"] = int(seconds * 1000)
    elif seconds is not None and how == "stamps":
        extra.update(server_start_ms=1_000_000, server_end_ms=1_000_000 + int(seconds * 1000))
    elif seconds is not None:
        started, finished = 100.0, 100.0 + seconds
    return JobRecord(
        id=f"job-{next(_ids)}",
        client_id="c",
        target=target,
        server_url="https://cloud.example",
        template=template,
        params=params or {"width": 1280, "height": 720},
        status=status,
        started_at=started,
        finished_at=finished,
        extra=extra,
    )


@pytest.fixture
def ledger(tmp_path: Path) -> Any:
    """An empty ledger in ``tmp_path``."""
    with Ledger.open(tmp_path / "ledger.sqlite3") as opened:
        yield opened


def test_rate_defaults_to_the_published_price_and_converts(tmp_path: Path) -> None:
    """0.266 credits per GPU second, 211 to the dollar: 15.96 credits, $0.0756 a minute."""
    rate = Rate.from_settings(settings_for(tmp_path))
    assert (rate.credits_per_second, rate.credits_per_usd) == (0.266, 211.0)
    data = rate.to_dict()
    assert data["credits_per_minute"] == pytest.approx(15.96)
    assert data["usd_per_minute"] == pytest.approx(0.0756, abs=1e-4)
    assert "partner-nodes/pricing" in data["source"]


def test_rate_is_a_setting(tmp_path: Path) -> None:
    """COMFYCINE_CLOUD_RATE and _CREDITS_PER_USD replace the defaults; bad values refused."""
    env = {"COMFYCINE_CLOUD_RATE": "0.5", "COMFYCINE_CLOUD_CREDITS_PER_USD": "200"}
    rate = Rate.from_settings(settings_for(tmp_path, env))
    assert (rate.credits_per_second, rate.credits_per_usd) == (0.5, 200.0)
    assert rate.source == "COMFYCINE_CLOUD_RATE"
    with pytest.raises(UsageError, match="COMFYCINE_CLOUD_RATE"):
        settings_for(tmp_path, {"COMFYCINE_CLOUD_RATE": "-1"})


@pytest.mark.parametrize("how", ["execution_ms", "stamps", "clock"])
def test_render_seconds_reads_each_measure(how: str) -> None:
    """The server's execution_ms, its start/end stamps, or our own started → finished."""
    assert render_seconds(cloud_job(42.0, how=how)) == pytest.approx(42.0)


def test_render_seconds_prefers_the_server_measure() -> None:
    """Download time on our side does not count when the server measured the run."""
    record = cloud_job(30.0)
    record = JobRecord(**{**record.to_dict(), "started_at": 0.0, "finished_at": 500.0})
    assert render_seconds(record) == pytest.approx(30.0)
    assert render_seconds(cloud_job(None)) is None


def test_estimate_is_the_median_of_the_cloud_history(ledger: Ledger) -> None:
    """Several runs with an outlier: the median, × the rate, in credits and dollars."""
    for seconds in (100, 120, 110, 3000):  # one stuck run
        ledger.add(cloud_job(seconds))
    ledger.add(cloud_job(5, target="local"))  # the PC's times never count
    ledger.add(cloud_job(5, status="failed"))
    rate = Rate()
    estimate = estimate_jobs(ledger, "wan", [{"width": 1280, "height": 720}], rate)
    assert estimate["basis"] == "history" and estimate["runs"] == 4
    assert estimate["seconds"] == pytest.approx(115.0)
    assert estimate["credits"] == pytest.approx(115 * 0.266, abs=0.01)
    assert estimate["usd"] == pytest.approx(115 * 0.266 / 211, abs=1e-4)
    assert "the median of 4 cloud runs of wan at this size" in estimate["text"]
    assert "31 credits" in estimate["text"] and "1.9 min" in estimate["text"]


def test_estimate_prefers_runs_of_the_same_size(ledger: Ledger) -> None:
    """1080p runs are not used for a 720p job when 720p runs exist; else said so."""
    ledger.add(cloud_job(60, params={"width": 1280, "height": 720}))
    ledger.add(cloud_job(600, params={"width": 1920, "height": 1080}))
    rate = Rate()
    same = estimate_jobs(ledger, "wan", [{"width": "1280", "height": "720"}], rate)
    assert (same["seconds"], same["same_size"], same["runs"]) == (60.0, True, 1)
    other = estimate_jobs(ledger, "wan", [{"width": 640, "height": 360}], rate)
    assert other["same_size"] is False and other["seconds"] == pytest.approx(330.0)
    assert "at other sizes" in other["text"]


def test_no_cloud_history_gives_the_rate_per_minute(ledger: Ledger) -> None:
    """Without a cloud run of the template: no seconds, no credits, the rate per minute."""
    ledger.add(cloud_job(60, target="local"))
    estimate = estimate_jobs(ledger, "wan", [{}], Rate())
    assert estimate["basis"] == "no_history"
    assert estimate["credits"] is None and estimate["seconds"] is None
    assert "no cloud run of wan in the ledger yet" in estimate["text"]
    assert "16 credits ($0.076) per GPU minute" in estimate["text"]


def test_batch_estimate_is_per_job_times_count(ledger: Ledger) -> None:
    """Ten jobs cost ten times one; spread with other targets it is an upper bound."""
    ledger.add(cloud_job(60))
    rate = Rate()
    jobs = [{"width": 1280, "height": 720}] * 10
    estimate = estimate_jobs(ledger, "wan", jobs, rate)
    assert estimate["jobs"] == 10 and estimate["seconds"] == pytest.approx(600.0)
    assert estimate["credits"] == pytest.approx(159.6, abs=0.01)
    assert "for 10 jobs, 60 s of GPU each" in estimate["text"]
    shared = estimate_jobs(ledger, "wan", jobs, rate, up_to=True)
    assert shared["up_to"] and "up to ≈ 160 credits" in shared["text"]
    assert "if all 10 jobs run there" in shared["text"]


def test_template_estimate_uses_the_given_size_and_defaults(tmp_path: Path) -> None:
    """generate's estimate: the template's defaults, overridden by --set, matched by size."""
    settings = settings_for(tmp_path)
    with Ledger.open(settings.ledger_path) as ledger:
        ledger.add(cloud_job(10, template="testimage", params={"width": 256, "height": 144}))
        ledger.add(cloud_job(90, template="testimage", params={"width": 512, "height": 144}))
    default = estimate_template_job(settings, "testimage")
    assert default is not None and default["seconds"] == pytest.approx(10.0)
    given = estimate_template_job(settings, "testimage", assignments=["width=512"])
    assert given is not None and given["seconds"] == pytest.approx(90.0)
    assert estimate_template_job(settings, "no-such-template") is None


def test_balance_chain_skips_zeros_and_withholds_the_unconfirmed() -> None:
    """A 0 in a preferred field never hides credits; an all-silent account shows none."""
    assert balance_micros({"effective_balance_micros": 0, "amount_micros": "7000000"}) == 7_000_000
    assert balance_micros({"amount_micros": 0}) == 0
    assert balance_micros({}) is None and balance_micros(["x"]) is None
    rate = Rate()
    silent = read_account({"subscription_status": None, "has_funds": False}, {}, None, rate)
    assert silent.known and silent.balance_credits is None
    assert "balance unknown" in silent.describe()


async def _account(handler: Any, timeout: float = 2.0) -> Any:
    client = CloudClient(
        "https://cloud.example", api_key=KEY, transport=httpx.MockTransport(handler)
    )
    try:
        return await fetch_account(client, Rate(), timeout=timeout)
    finally:
        await client.aclose()


async def test_account_reads_plan_balance_and_concurrency() -> None:
    """The billing routes as comfy-cli reads them: CREATOR, $12.50 = 2,637.5 credits, 3 jobs."""
    seen: list[httpx.Request] = []
    answers = {
        "/api/billing/status": {
            "is_active": True,
            "has_funds": True,
            "subscription_status": "active",
            "subscription_tier": "CREATOR",
            "plan_slug": "creator-monthly",
        },
        "/api/billing/balance": {"effective_balance_micros": 12_500_000},
        "/api/features": {"max_concurrent_jobs": 3},
    }

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=answers[request.url.path])

    account = await _account(handler)
    assert (account.tier, account.status, account.active) == ("CREATOR", "active", True)
    assert (account.balance_credits, account.balance_usd) == (2637.5, 12.5)
    assert account.max_concurrent_jobs == 3
    assert account.describe() == (
        "plan CREATOR (active), balance 2,638 credits ($12.50), 3 job(s) at once"
    )
    assert {r.headers["X-API-Key"] for r in seen} == {KEY}
    assert KEY not in json.dumps(account.to_dict())


async def test_account_unknown_when_the_routes_are_missing_or_refused() -> None:
    """404 everywhere, or 401/402/500: an unknown account, never an exception."""
    for status in (404, 401, 402, 500):

        def handler(request: httpx.Request, status: int = status) -> httpx.Response:
            return httpx.Response(status, json={"code": "x", "message": f"no {KEY}"})

        account = await _account(handler)
        assert not account.known, status
        assert KEY not in json.dumps(account.to_dict())


async def test_account_unknown_when_the_cloud_is_slow_or_away() -> None:
    """A billing service slower than the bound, or no route to the host: unknown, in time."""

    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(30)
        return httpx.Response(200, json={})

    account = await asyncio.wait_for(_account(slow, timeout=0.2), 10)
    assert not account.known and "no answer in 0.2 s" in account.detail

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    assert not (await asyncio.wait_for(_account(down, timeout=1.0), 20)).known


def _result(target: str) -> JobResult:
    return JobResult(job="j", target=target, status="succeeded", template="wan")


def test_fallback_puts_the_estimate_in_the_question_and_the_error() -> None:
    """The PC unreachable: ask sees details.estimate; refused, the envelope keeps it."""
    quote = {"text": "Comfy Cloud estimate: ≈ 31 credits ($0.145)", "credits": 30.6}
    asked: list[dict[str, Any]] = []

    def run(where: str | None) -> JobResult:
        if where != "cloud":
            raise TargetUnreachable("The PC is off.")
        return _result("cloud")

    def ask(exc: Any) -> bool:
        asked.append(dict(exc.details))
        return False

    with pytest.raises(TargetUnreachable) as caught:
        with_fallback(
            run,
            target=None,
            fallback=None,
            ask=ask,
            command=lambda where: f"comfycine generate wan --target {where}",
            notice=lambda text: None,
            estimate=lambda: quote,
        )
    assert asked[0]["estimate"] == quote
    assert caught.value.details["estimate"] == quote and caught.value.details["fallback"] == "cloud"


def test_consented_fallback_tells_the_estimate_and_a_pc_job_costs_nothing() -> None:
    """--fallback cloud: the notice carries the estimate; a PC that answers is never quoted."""
    notices: list[str] = []
    calls: list[int] = []

    def quote() -> dict[str, Any]:
        calls.append(1)
        return {"text": "Comfy Cloud estimate: ≈ 31 credits"}

    def down(where: str | None) -> JobResult:
        if where != "cloud":
            raise TargetUnreachable("The PC is off.")
        return _result("cloud")

    common: dict[str, Any] = {
        "ask": None,
        "command": lambda where: "x",
        "notice": notices.append,
        "estimate": quote,
    }
    assert with_fallback(down, target=None, fallback="cloud", **common).target == "cloud"
    assert "as --fallback cloud allows. Comfy Cloud estimate: ≈ 31 credits" in notices[0]
    calls.clear()
    assert with_fallback(lambda where: _result("local"), target=None, fallback=None, **common)
    assert calls == []


def test_the_consent_question_names_the_estimate(monkeypatch: pytest.MonkeyPatch) -> None:
    """The question at a terminal: the reason, the estimate, then 'Run it on Comfy Cloud'."""
    import typer

    from comfycine.cli.bodies import jobs

    asked: list[str] = []
    monkeypatch.setattr(typer, "confirm", lambda text, err: asked.append(text) or True)
    error = TargetUnreachable("The PC is off.", details={"estimate": {"text": "≈ 31 credits"}})
    assert jobs._ask_cloud(error) is True
    assert asked == ["The PC is off.\n≈ 31 credits\nRun it on Comfy Cloud instead (paid)?"]
    jobs._ask_cloud(TargetUnreachable("The PC is off."))
    assert asked[1] == "The PC is off.\nRun it on Comfy Cloud instead (paid)?"
