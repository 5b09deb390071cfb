"""Account and credentials refusals: pasted text and comfycine's own errors share one table."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from comfycine.diagnose import Diagnosis, JobContext, diagnose, error_from_text
from comfycine.errors import CloudAccountError, ComfycineError, ServerError
from comfycine.transport.cloud import CloudClient
from comfycine.transport.failures import target_auth_error
from comfycine.transport.v2answers import v2_error

CLOUD_URL = "https://cloud.comfy.org"
STUDIO_URL = "http://100.64.1.2:8188"
UNKNOWN = JobContext(target_known=False)  # a pasted error, no --target


def _pasted(text: str, ctx: JobContext = UNKNOWN) -> Diagnosis:
    return diagnose(error_from_text(text), ctx)


def _texts(diagnosis: Diagnosis) -> str:
    return " ".join(f"{f.text} {f.command or ''}" for f in diagnosis.fixes)


def _v1_refusal(status: int, body: dict[str, Any]) -> CloudAccountError:
    """What the cloud client raises for a v1 answer (a call that goes through /api)."""

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json=body)

    async def run() -> CloudAccountError:
        client = CloudClient(
            "https://cloud.example.invalid",
            api_key="k-test",
            api="v1",
            transport=httpx.MockTransport(answer),
        )
        try:
            await client.object_info()
        except CloudAccountError as exc:
            return exc
        finally:
            await client.aclose()
        raise AssertionError("no CloudAccountError raised")

    return asyncio.run(run())


def _v2_refusal(status: int, code: str, headers: dict[str, str] | None = None) -> ComfycineError:
    """What comfycine raises for a v2 error answer from Comfy Cloud."""
    request = httpx.Request("POST", f"{CLOUD_URL}/api/v2/jobs")
    body = {"error": {"code": code, "message": "refused", "details": {}}}
    response = httpx.Response(status, json=body, headers=headers, request=request)
    return v2_error(response, label="Comfy Cloud", cloud=True)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("402 Payment Required: Insufficient credits to run this workflow", "cloud_credits"),
        ("Insufficient credits to run this workflow", "cloud_credits"),
        ("HTTP 429 Too Many Requests: queue_full, Retry-After: 30", "cloud_queue_full"),
        ("HTTP 429 Too Many Requests: rate_limited, Retry-After: 30", "cloud_rate_limited"),
        ("HTTP 429: too_many_streams", "cloud_rate_limited"),
        ("429 Too Many Requests: FREE_TIER_EXHAUSTED", "cloud_plan"),
        ("Error: 401 Unauthorized: invalid API key (Comfy Cloud)", "cloud_auth"),
        (
            '{"error": {"type": "QUEUE_LIMIT", "message": "Queue limit reached"}}',
            "cloud_queue_full",
        ),
        ('{"type": "FREE_TIER_UNAVAILABLE", "message": "No free GPUs"}', "cloud_queue_full"),
        ('{"error": {"type": "CLOUD_SUBSCRIPTION_REQUIRED", "message": "x"}}', "cloud_plan"),
        ('{"type": "FREE_TIER_EXHAUSTED", "message": "Free tier used up"}', "cloud_plan"),
        (
            '{"error": {"code": "insufficient_credits", "message": "No credits", "details": {}}}',
            "cloud_credits",
        ),
        ('{"error": {"code": "queue_full", "message": "Full", "details": {}}}', "cloud_queue_full"),
        (
            '{"error": {"code": "rate_limited", "message": "Slow down", "details": {}}}',
            "cloud_rate_limited",
        ),
        (
            '{"error": {"code": "unauthorized", "message": "Invalid API key", "details": {}}}',
            "cloud_auth",
        ),
    ],
)
def test_pasted_cloud_refusals_get_their_codes(text: str, code: str) -> None:
    """Each pasted form of a Comfy Cloud refusal (text, v1 JSON, v2 JSON) → its code."""
    assert _pasted(text).code == code


@pytest.mark.parametrize(
    ("text", "status", "body"),
    [
        (
            "402 Payment Required: Insufficient credits",
            402,
            {"error": {"type": "X", "message": ""}},
        ),
        ('{"error": {"type": "QUEUE_LIMIT"}}', 429, {"error": {"type": "QUEUE_LIMIT"}}),
        (
            "429 CLOUD_SUBSCRIPTION_REQUIRED",
            429,
            {"error": {"type": "CLOUD_SUBSCRIPTION_REQUIRED"}},
        ),
        ("401 Unauthorized: invalid API key", 401, {"message": "Invalid API key"}),
    ],
)
def test_pasted_v1_refusal_matches_the_clients_own(
    text: str, status: int, body: dict[str, Any]
) -> None:
    """A pasted v1 refusal gets the code and fixes of the one the cloud client raises."""
    ctx = JobContext(target="cloud")
    mine = diagnose(_v1_refusal(status, body), ctx)
    assert (_pasted(text, ctx).code, _pasted(text, ctx).fixes) == (mine.code, mine.fixes)


@pytest.mark.parametrize(
    ("status", "code", "text"),
    [
        (402, "insufficient_credits", '{"error": {"code": "insufficient_credits"}}'),
        (429, "queue_full", "HTTP 429 Too Many Requests: queue_full, Retry-After: 30"),
        (429, "rate_limited", "HTTP 429 Too Many Requests: rate_limited, Retry-After: 30"),
        (429, "too_many_streams", "429 too_many_streams, Retry-After: 30"),
        (401, "unauthorized", "Comfy Cloud: 401 Unauthorized"),
    ],
)
def test_pasted_v2_refusal_matches_the_clients_own(status: int, code: str, text: str) -> None:
    """A pasted v2 refusal gets the code and fixes of the error comfycine raises for it."""
    ctx = JobContext(target="cloud")
    mine = diagnose(_v2_refusal(status, code, {"Retry-After": "30"}), ctx)
    pasted = _pasted(text, ctx)
    assert (pasted.code, pasted.fixes) == (mine.code, mine.fixes)


def test_rate_limit_fix_waits_the_retry_after() -> None:
    """A Retry-After in the pasted text → "Wait N s and retry"."""
    found = _pasted("HTTP 429 Too Many Requests: rate_limited, Retry-After: 30")
    assert found.fixes[0].text == "Wait 30 s and retry."


def test_credits_fixes_add_credits_or_render_locally() -> None:
    """Out of credits → platform.comfy.org, then the same job on the local ComfyUI."""
    ctx = JobContext(target="cloud", template="testimage", params={"prompt": "a cat"})
    found = _pasted("402 Payment Required: Insufficient credits to run this workflow", ctx)
    assert "platform.comfy.org" in found.fixes[0].text
    assert found.fixes[1].command == "comfycine generate testimage --prompt 'a cat' --target local"


def test_cloud_auth_names_the_key_setting_and_doctor() -> None:
    """A refused cloud key → COMFY_CLOUD_API_KEY (from platform.comfy.org, .env) and doctor."""
    found = _pasted("401 Unauthorized: invalid API key")
    assert "COMFY_CLOUD_API_KEY" in found.fixes[0].text and ".env" in found.fixes[0].text
    assert found.fixes[1].command == "comfycine doctor --target cloud"


def test_queue_full_says_wait_with_status() -> None:
    """A full cloud queue → wait for running jobs (comfycine status), then retry."""
    found = _pasted('{"error": {"type": "QUEUE_LIMIT", "message": "Queue limit reached"}}')
    assert found.fixes[0].command == "comfycine status"


def test_plain_401_without_a_clue_names_both_settings() -> None:
    """'Error: 401 Unauthorized' and no target → both readings, both settings named."""
    found = _pasted("Error: 401 Unauthorized")
    assert found.code == "auth_refused"
    fixes = _texts(found)
    assert "COMFY_CLOUD_API_KEY" in fixes
    assert "COMFYCINE_TARGET_<NAME>_TOKEN" in fixes
    assert "COMFYCINE_TARGET_<NAME>_USER" in fixes and "COMFYCINE_TARGET_<NAME>_PASSWORD" in fixes


def test_plain_401_on_a_named_target_is_target_auth() -> None:
    """The same 401 with --target studio → target_auth naming studio's URL and variables."""
    ctx = JobContext(target="studio", server_url=STUDIO_URL)
    found = _pasted("Error: 401 Unauthorized", ctx)
    assert found.code == "target_auth"
    assert "studio" in found.cause and STUDIO_URL in found.cause
    assert "COMFYCINE_TARGET_STUDIO_TOKEN" in found.fixes[0].text
    assert "COMFYCINE_TARGET_STUDIO_PASSWORD" in found.fixes[0].text
    assert found.fixes[1].command == "comfycine doctor --target studio"
    assert "COMFY_CLOUD_API_KEY" not in _texts(found)


def test_plain_401_on_the_cloud_target_is_cloud_auth() -> None:
    """The same 401 with --target cloud → cloud_auth."""
    assert _pasted("Error: 401 Unauthorized", JobContext(target="cloud")).code == "cloud_auth"


def test_basic_auth_challenge_is_a_self_hosted_refusal() -> None:
    """A pasted basic-auth challenge → target_auth even without a target."""
    found = _pasted('HTTP/1.1 401 Unauthorized\nWWW-Authenticate: Basic realm="comfy"')
    assert found.code == "target_auth"
    assert "COMFYCINE_TARGET_<NAME>_USER" in found.fixes[0].text


def test_structured_target_auth_keeps_the_clients_exact_hint() -> None:
    """A TargetAuthError from the client → target_auth with its hint and the target named."""
    error = target_auth_error(STUDIO_URL, 401, target="studio")
    found = diagnose(error, JobContext(target="studio", server_url=STUDIO_URL))
    assert found.code == "target_auth"
    assert found.fixes[0].text == error.hint
    assert "COMFYCINE_TARGET_STUDIO_TOKEN" in found.fixes[0].text
    assert "studio" in found.cause and STUDIO_URL in found.cause


def test_a_comfyui_401_server_error_is_target_auth() -> None:
    """A plain ServerError 401 from a named target's ComfyUI → target_auth, not the cloud."""
    error = ServerError("ComfyUI answered HTTP 401", details={"status": 401})
    found = diagnose(error, JobContext(target="studio", server_url=STUDIO_URL))
    assert found.code == "target_auth"
    assert "platform.comfy.org" not in _texts(found)


def test_cloud_403_on_a_job_stays_a_server_error() -> None:
    """Comfy Cloud's 403 on a foreign job (no challenge) is not read as a bad key."""
    error = ServerError("Comfy Cloud answered HTTP 403", details={"status": 403})
    assert diagnose(error, JobContext(target="cloud")).code == "server_error"


def test_v2_job_error_json_uses_the_node_rules() -> None:
    """A pasted v2 job error → the usual rules on its message (OOM, missing package)."""
    oom = {"code": "node_execution_error", "message": "torch.OutOfMemoryError: CUDA out of memory"}
    assert _pasted(json.dumps(oom)).code == "out_of_memory"
    module = {"code": "node_execution_error", "message": "No module named 'sageattention'"}
    job = {"id": "j1", "status": "failed", "error": {**module, "node_id": "4"}}
    assert _pasted(json.dumps(job)).code == "missing_python_package"
