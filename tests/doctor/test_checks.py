"""The doctor's report: exit code of the first failing rung, and every check kept on failure."""

from __future__ import annotations

import pytest

from comfycine.doctor.checks import Check, DoctorReport, failed, skipped
from comfycine.errors import CloudAccountError, ExitCode, TargetUnreachable


def report(*checks: Check) -> DoctorReport:
    """A report on the local target with ``checks``."""
    return DoctorReport("local", "http://127.0.0.1:8188", list(checks))


def test_warnings_and_skips_pass() -> None:
    """Nothing failed: ok and exit 0, even with warnings and skipped rungs."""
    result = report(Check("config", "ok"), Check("notify", "warn", "none", "set one"))
    assert result.ok and result.exit_code == 0
    with pytest.raises(ValueError):
        result.error()


def test_exit_code_is_the_first_failing_rung() -> None:
    """Two failures: the exit code and the error come from the first in ladder order."""
    result = report(
        Check("config", "ok"),
        failed("tcp", "refused: nothing listens", "Start ComfyUI"),
        skipped("http", "tcp failed"),
        failed("cloud", "key refused", "Check the key", exit_code=7, code="cloud_auth"),
    )
    assert result.exit_code == ExitCode.UNREACHABLE
    error = result.error()
    assert isinstance(error, TargetUnreachable) and error.code == "target_unreachable"
    assert error.hint == "Start ComfyUI" and "1 more failing" in error.message
    assert [c["name"] for c in error.details["checks"]] == ["config", "tcp", "http", "cloud"]


def test_cloud_failure_alone_is_exit_7() -> None:
    """Only the cloud rung failing: exit 7, cloud_auth, a CloudAccountError."""
    result = report(
        Check("tcp", "ok"), failed("cloud", "bad key", "fix", exit_code=7, code="cloud_auth")
    )
    error = result.error()
    assert result.exit_code == 7 and isinstance(error, CloudAccountError)
    assert error.code == "cloud_auth" and int(error.exit_code) == 7


def test_check_json_shape() -> None:
    """A check's JSON has name, status, value and fix; details only when present."""
    plain = Check("tcp", "ok", "127.0.0.1:8188 accepts").to_dict()
    assert plain == {"name": "tcp", "status": "ok", "value": "127.0.0.1:8188 accepts", "fix": ""}
    assert Check("templates", "warn", details={"templates": []}).to_dict()["details"] == {
        "templates": []
    }
