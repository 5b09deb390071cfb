"""Refusals of an account or of credentials: Comfy Cloud's key, credits, plan, queue and
rate limits, and a self-hosted target's token or password.

One table for both ways in: a :class:`~comfycine.errors.CloudAccountError` comfycine
raised itself (``transport/cloud.py``, ``transport/v2answers.py``) and a pasted error
(:mod:`comfycine.diagnose.text`) carry the same codes, and :func:`account` alone turns
them into causes and fixes. Codes:

=====================  ==================================================================
``cloud_auth``         401/403 from Comfy Cloud (missing, mistyped or revoked API key)
``cloud_credits``      402, v2 ``insufficient_credits``
``cloud_queue_full``   429 v2 ``queue_full`` / ``deployment_not_ready``, v1 ``QUEUE_LIMIT``,
                       ``FREE_TIER_UNAVAILABLE``
``cloud_rate_limited`` 429 v2 ``rate_limited`` / ``too_many_streams`` (or a bare 429)
``cloud_plan``         429 v1 plan refusals (``FREE_TIER_EXHAUSTED``,
                       ``CLOUD_SUBSCRIPTION_REQUIRED``, …)
``target_auth``        401/403 from a self-hosted target (auth proxy, comfy-api-proxy --token)
``auth_refused``       401/403 and nothing says which machine: both readings
=====================  ==================================================================
"""

from __future__ import annotations

from collections.abc import Callable

from ..envnames import target_auth_env_names
from ..errors import ComfycineError
from ..transport.cloud import PLAN_REFUSALS, QUEUE_FULL
from .model import Diagnosis, Fix, JobContext
from .place import CLOUD, LOCAL, Place, place_of

AUTH_UNKNOWN = "auth_refused"
AUTH_STATUSES = frozenset({401, 403})
# v1 ``error.type`` (PROTOCOL.md §5.3) and v2 ``error.code`` (COMFY-API-V2.md §6) → code,
# sorted the way transport/cloud.py and transport/v2answers.py sort them.
ACCOUNT_KINDS: dict[str, str] = {
    **{kind: "cloud_queue_full" for kind in QUEUE_FULL},
    **{kind: "cloud_plan" for kind in PLAN_REFUSALS},
    "insufficient_credits": "cloud_credits",
    "queue_full": "cloud_queue_full",
    "deployment_not_ready": "cloud_queue_full",
    "rate_limited": "cloud_rate_limited",
    "too_many_streams": "cloud_rate_limited",
    "unauthorized": AUTH_UNKNOWN,
    "forbidden": AUTH_UNKNOWN,
}
# Every code :func:`account` explains.
ACCOUNT_CODES = frozenset(
    {"cloud_auth", "cloud_credits", "cloud_queue_full", "cloud_rate_limited", "cloud_plan"}
    | {"target_auth", AUTH_UNKNOWN}
)
SETUP_KEY = "Put a key from platform.comfy.org (API keys) into COMFY_CLOUD_API_KEY"
_CLOUD_DOCTOR = "comfycine doctor --target cloud"
_NAMED_DEBUG = "comfycine debug --error-text - --target NAME"
# The variables of a target whose name nobody said.
_PLACEHOLDER_NAMES = (
    "COMFYCINE_TARGET_<NAME>_TOKEN",
    "COMFYCINE_TARGET_<NAME>_USER",
    "COMFYCINE_TARGET_<NAME>_PASSWORD",
)


def account_code(status: int | None, kind: str | None, *, plan: bool = False) -> str | None:
    """The diagnosis code of an HTTP ``status`` and an error ``kind`` (v1 type, v2 code).

    None when they are not an account refusal. A 401/403 gives ``auth_refused``: which
    machine refused is for the caller to tell. A 429 without a known kind is a rate limit,
    or a plan refusal when ``plan`` (the text speaks of a plan or subscription).
    """
    by_kind = ACCOUNT_KINDS.get(kind or "") or ACCOUNT_KINDS.get((kind or "").lower())
    if status in AUTH_STATUSES:
        return AUTH_UNKNOWN
    if status == 402:
        return "cloud_credits"
    if by_kind is not None:
        return by_kind
    if status == 429:
        return "cloud_plan" if plan else "cloud_rate_limited"
    return None


def seconds(value: object) -> int | None:
    """Whole seconds of a ``Retry-After`` value (``30``, ``"30"``); None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return max(int(value), 0)
    text = str(value or "").strip()
    return int(text) if text.isdigit() else None


def is_auth_refusal(error: ComfycineError) -> bool:
    """A 401/403 that :func:`account` explains (not Comfy Cloud's 403 on someone else's job)."""
    if error.code in {"cloud_auth", "target_auth", AUTH_UNKNOWN}:
        return True
    return error.code == "server_error" and error.details.get("status") in AUTH_STATUSES


def account(error: ComfycineError, ctx: JobContext) -> Diagnosis:
    """The diagnosis of an account or credentials refusal, worded for where it happened."""
    place = place_of(ctx, error)
    rule = _CLOUD_RULES.get(error.code)
    if rule is not None:
        return rule(error, ctx, place if place.is_cloud else Place(CLOUD, CLOUD))
    if not is_auth_refusal(error):
        return Diagnosis(error.code, error.message, [Fix(error.hint)] if error.hint else [])
    status = error.details.get("status")
    if error.code == "target_auth" or error.details.get("self_hosted"):
        return target_auth(error, place, status)
    if place.known or error.code == "server_error":
        # A ComfyUI's own 401 (server_error) is never Comfy Cloud's: cloud.py raises
        # CloudAccountError for those.
        return cloud_auth(error, place) if place.is_cloud else target_auth(error, place, status)
    return _either(error, status)


# ---------------------------------------------------------------- credentials


def cloud_auth(error: ComfycineError, place: Place) -> Diagnosis:
    """Comfy Cloud (or a Comfy deployment) refused the API key."""
    status = error.details.get("status")
    said = f" (HTTP {status})" if status else ""
    if error.details.get("v1_accepts_key"):
        # v2 (jobs) refuses a key that v1 takes: an old key, or one without v2 access.
        return Diagnosis(
            "cloud_auth",
            "Comfy Cloud's API v2 (jobs) refused the key that its v1 API accepts.",
            [
                Fix(
                    "Create a new key at platform.comfy.org for COMFY_CLOUD_API_KEY, or run "
                    "jobs over the deprecated v1 API meanwhile: COMFYCINE_CLOUD_API=v1"
                ),
                Fix("Check both APIs without rendering:", "comfycine doctor --target cloud"),
            ],
        )
    return Diagnosis(
        "cloud_auth",
        f"{place.subject} refused the API key{said}: it is missing, mistyped or revoked.",
        [
            Fix(f"{SETUP_KEY}, in the environment or .env."),
            Fix(
                "Check the key without rendering anything:", f"comfycine doctor{place.target_flag}"
            ),
        ],
    )


def target_auth(error: ComfycineError, place: Place, status: object) -> Diagnosis:
    """A self-hosted target (auth proxy, comfy-api-proxy --token) refused its credentials."""
    name = str(error.details.get("target") or "") or (place.name if place.known else "")
    names = target_auth_env_names(name) if name else _PLACEHOLDER_NAMES
    if name and place.known and name == place.name:
        where = place.subject
    elif name:
        where = f"Target {name}" + (f" ({place.url})" if place.url else "")
    else:
        where = "The server"
    said = f" (HTTP {status})" if status else ""
    fix = Fix(
        f"Give comfycine the credentials of {name or 'the target'}: " + _credentials_text(names)
    )
    if error.code == "target_auth" and error.details.get("settings") and error.hint:
        # The client knew what it sent (which setting, which scheme): its hint is exact.
        fix = Fix(error.hint)
    return Diagnosis(
        "target_auth",
        f"{where} refused comfycine's credentials{said}: it sits behind an auth "
        "proxy, or is a comfy-api-proxy started with --token.",
        [fix, Fix("Check them:", f"comfycine doctor --target {name or 'NAME'}")],
        {"target": name or None},
    )


def _credentials_text(names: tuple[str, str, str]) -> str:
    token, user, password = names
    return (
        f"set {token} (a bearer token, e.g. the proxy's --token), or {user} and "
        f"{password} (basic auth; or a user:password@ before the host in its URL), in the "
        "environment or .env."
    )


def _either(error: ComfycineError, status: object) -> Diagnosis:
    """A 401/403 with no clue which machine refused: both readings, both settings."""
    said = f"HTTP {status}" if status else "an authorisation refusal"
    return Diagnosis(
        AUTH_UNKNOWN,
        f"A server refused the credentials ({said}) and the text does not say which: Comfy "
        "Cloud's API key, or a self-hosted ComfyUI behind an auth proxy (or a "
        "comfy-api-proxy started with --token).",
        [
            Fix(f"Comfy Cloud: {SETUP_KEY} (environment or .env), then check it:", _CLOUD_DOCTOR),
            Fix(
                "A self-hosted target NAME: " + _credentials_text(_PLACEHOLDER_NAMES),
                "comfycine doctor --target NAME",
            ),
            Fix("Name the machine for a precise answer:", _NAMED_DEBUG),
        ],
    )


# ---------------------------------------------------------------------- cloud


def _elsewhere(error: ComfycineError, ctx: JobContext) -> Fix:
    """The same job on the local ComfyUI (the exact command when the job is known)."""
    command = error.details.get("command") or ctx.rerun_command(target=LOCAL)
    if command:
        return Fix("Or render it on the local ComfyUI:", str(command))
    return Fix("Or render it on the local ComfyUI: add --target local to the command.")


def _credits(error: ComfycineError, ctx: JobContext, place: Place) -> Diagnosis:
    whose = "The Comfy Cloud account" if place.name == CLOUD else f"The account of {place.label}"
    return Diagnosis(
        "cloud_credits",
        f"{whose} is out of credits.",
        [Fix("Add credits at platform.comfy.org, then retry."), _elsewhere(error, ctx)],
    )


def _plan(error: ComfycineError, ctx: JobContext, place: Place) -> Diagnosis:
    kind = error.details.get("type")
    return Diagnosis(
        "cloud_plan",
        f"{place.subject} refused the job for this account's plan"
        + (f" ({kind})" if kind else "")
        + ": API jobs need an active Standard, Creator or Pro subscription (partner nodes "
        "and some models need credits too).",
        [Fix("Check the subscription at platform.comfy.org."), _elsewhere(error, ctx)],
    )


def _queue_full(error: ComfycineError, ctx: JobContext, place: Place) -> Diagnosis:
    tries = error.details.get("tries")
    waited = f"; comfycine tried {tries} times" if isinstance(tries, int) and tries > 1 else ""
    return Diagnosis(
        "cloud_queue_full",
        f"{place.subject}'s queue for this account is full (the plan's running jobs plus the "
        f"queued ones){waited}.",
        [
            Fix("Wait for running jobs to finish, then retry; see them with:", "comfycine status"),
            _elsewhere(error, ctx),
        ],
    )


def _rate_limited(error: ComfycineError, ctx: JobContext, place: Place) -> Diagnosis:
    wait = seconds(error.details.get("retry_after"))
    streams = error.details.get("type") == "too_many_streams"
    what = (
        "too many live progress streams are open for this account"
        if streams
        else "this account sent too many requests in a short time"
    )
    retry = f"Wait {wait} s and retry." if wait is not None else "Wait a minute and retry."
    fixes = [Fix(retry)]
    if streams:
        fixes.append(Fix("Fewer followers help; the jobs in flight:", "comfycine status"))
    return Diagnosis(
        "cloud_rate_limited",
        f"{place.subject} is limiting requests: {what}. comfycine waits out a Retry-After "
        "by itself; this one outlasted its retries.",
        fixes,
        {"retry_after": wait} if wait is not None else {},
    )


_CLOUD_RULES: dict[str, Callable[[ComfycineError, JobContext, Place], Diagnosis]] = {
    "cloud_auth": lambda error, ctx, place: cloud_auth(error, place),
    "cloud_credits": _credits,
    "cloud_plan": _plan,
    "cloud_queue_full": _queue_full,
    "cloud_rate_limited": _rate_limited,
}
