"""What the cloud will cost: the account's balance and plan, and an estimate per job.

::

    rate.py      the published rate (credits per GPU second, credits per dollar), a setting
    account.py   balance, plan and concurrency from Comfy Cloud's billing routes (bounded;
                 anything missing is "unknown", never a failed command)
    estimate.py  a job's or a batch's cost from the ledger's own cloud history × the rate

``targets`` and ``doctor`` show the account; ``generate``, ``batch`` and a fallback's
consent question show the estimate (``data.estimate`` / ``error.details.estimate``).
"""

from __future__ import annotations

from .account import Account, account_of, fetch_account, read_account
from .estimate import (
    estimate_batch,
    estimate_jobs,
    estimate_template_job,
    median_seconds,
    render_seconds,
)
from .rate import Rate

__all__ = [
    "Account",
    "Rate",
    "account_of",
    "estimate_batch",
    "estimate_jobs",
    "estimate_template_job",
    "fetch_account",
    "median_seconds",
    "read_account",
    "render_seconds",
]
