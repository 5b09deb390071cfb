"""The one exception tree of comfycine, and the exit codes it maps to.

::

    ComfycineError                      exit 1   unexpected
    ├── UsageError                      exit 2   bad flag, bad value
    │   ├── TemplateNotFound            exit 2   unknown template name
    │   ├── TemplateInvalid             exit 2   unreadable or UI-format template
    │   ├── ParameterError              exit 2   unknown, ill-typed or missing value
    │   ├── MediaNotFound               exit 2   a media path that does not exist
    │   └── JobNotFound                 exit 2   no such job in the ledger
    ├── TargetUnreachable               exit 3   DNS, refused, timeout
    │   └── SocketRefused               exit 3   the WebSocket refused, HTTP answering
    ├── RejectedError                   exit 4   server refused before running
    │   ├── ValidationFailed            exit 4   node_errors / invalid_prompt
    │   └── ServerError                 exit 4   5xx or a non-ComfyUI answer
    ├── JobFailed                       exit 5   execution_error while running
    │   ├── JobInterrupted              exit 5   cancelled while running
    │   ├── JobLost                     exit 5   vanished from queue and history
    │   └── DownloadFailed              exit 5   an output could not be fetched
    ├── NotifyFailed                    exit 5   no notification channel delivered
    ├── StillRunning                    exit 6   the wait ended before the job
    ├── CloudAccountError               exit 7   key, credits, plan, queue full
    ├── TargetAuthError                 exit 7   a server refused the token or password
    ├── OutputNotWritable               exit 8   disk full, read-only or unwritable folder
    ├── ConsentRequired                 exit 9   spending or installing needs a yes
    └── Interrupted                     exit 130 Ctrl-C

Every class carries a stable snake_case ``code``, a one-line ``hint`` that names the
next command to run, its ``exit_code`` and free-form ``details`` for the JSON envelope.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any, ClassVar


class ExitCode(IntEnum):
    """Process exit codes; the contract of DESIGN.md."""

    OK = 0
    UNEXPECTED = 1
    USAGE = 2
    UNREACHABLE = 3
    REJECTED = 4
    FAILED = 5
    STILL_RUNNING = 6
    CLOUD_ACCOUNT = 7  # account or credentials problem (the cloud key, a target's token)
    OUTPUT_NOT_WRITABLE = 8
    CONSENT = 9  # spending (partner nodes) or installing on the PC needs an explicit yes
    INTERRUPTED = 130


def join_sentences(*parts: str | None) -> str:
    """Texts (hints, fixes) joined as sentences: one space between, and a period after a
    part that ends without ``.``, ``!``, ``?`` or ``:`` (a ``:`` leads into the next part).

    ``join_sentences("Then retry", "Run it on the cloud:", "comfycine …")`` →
    ``"Then retry. Run it on the cloud: comfycine …"``. Empty parts are dropped.
    """
    joined = ""
    for part in parts:
        text = (part or "").strip()
        if not text:
            continue
        if joined and joined[-1] not in ".!?:":
            joined += "."
        joined = f"{joined} {text}" if joined else text
    return joined


class ComfycineError(Exception):
    """Base of every error comfycine raises on purpose."""

    code: ClassVar[str] = "unexpected"
    exit_code: ClassVar[ExitCode] = ExitCode.UNEXPECTED
    default_hint: ClassVar[str] = "Run again with --debug and report the traceback."

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        details: dict[str, Any] | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint if hint is not None else self.default_hint
        self.details: dict[str, Any] = details or {}
        if code is not None:
            # Subclasses share an exit code but may refine the code (e.g. out_of_memory).
            self.code = code  # type: ignore[misc]

    def to_dict(self) -> dict[str, Any]:
        """The ``error`` object of the JSON envelope."""
        return {
            "code": self.code,
            "message": self.message,
            "hint": self.hint,
            "details": self.details,
        }


class UsageError(ComfycineError):
    """The command line or a value given to it is wrong."""

    code = "usage_error"
    exit_code = ExitCode.USAGE
    default_hint = "See comfycine --help."


class NoCatalog(UsageError):
    """The server has no node catalog (Comfy API v2): the checks that need one are skipped."""

    code = "no_node_catalog"


class TemplateNotFound(UsageError):
    """No template by that name in the workflow directories."""

    code = "unknown_template"
    default_hint = "List the templates with: comfycine workflow list"


class TemplateInvalid(UsageError):
    """A template file cannot be used (unreadable JSON, UI format, no nodes)."""

    code = "invalid_template"
    default_hint = "Export the workflow in API format (Workflow > Export (API))."


class ParameterError(UsageError):
    """A template parameter is unknown, ill-typed or missing."""

    code = "invalid_parameter"
    default_hint = "See the template's parameters with: comfycine workflow show NAME"


class MediaNotFound(UsageError):
    """A media placeholder points at a file that does not exist."""

    code = "media_not_found"
    default_hint = "Check the path given with --set."


class JobNotFound(UsageError):
    """The ledger has no job with that id."""

    code = "unknown_job"
    default_hint = "List recent jobs with: comfycine status"


class TargetUnreachable(ComfycineError):
    """The ComfyUI server cannot be reached."""

    code = "target_unreachable"
    exit_code = ExitCode.UNREACHABLE
    default_hint = "Check that ComfyUI runs with --listen and that COMFYUI_URL is right."


class SocketRefused(TargetUnreachable):
    """The server (or a proxy in front of it) answers HTTP but refuses the WebSocket.

    Followed jobs fall back to polling; only ``--transport ws`` makes this an error.
    """

    code = "websocket_refused"
    default_hint = "Follow jobs over plain HTTP instead: add --transport poll."


class RejectedError(ComfycineError):
    """The server refused the job before running it."""

    code = "rejected"
    exit_code = ExitCode.REJECTED
    default_hint = "Check the template's inputs with: comfycine workflow show NAME"


class ValidationFailed(RejectedError):
    """The server's validation (HTTP 400) rejected the graph."""

    code = "validation_failed"


class ServerError(RejectedError):
    """The server answered with an error that is not a validation result."""

    code = "server_error"
    default_hint = "Check COMFYUI_URL points at ComfyUI, and the ComfyUI console for errors."


class JobFailed(ComfycineError):
    """The job failed while running on the server."""

    code = "node_exception"
    exit_code = ExitCode.FAILED
    default_hint = "See the job with: comfycine status last --json"


class JobInterrupted(JobFailed):
    """The job was interrupted while running."""

    code = "job_interrupted"
    default_hint = "Run it again with: comfycine generate TEMPLATE"


class JobLost(JobFailed):
    """The job is neither queued nor in history: the server lost it (restart)."""

    code = "job_lost"
    default_hint = "The server probably restarted; submit the job again."


class DownloadFailed(JobFailed):
    """An output file could not be downloaded."""

    code = "download_failed"
    default_hint = "Retry the download with: comfycine wait JOB"


class NotifyFailed(ComfycineError):
    """Every configured notification channel failed (``comfycine notify``).

    Exit 5, "failed while running": the command ran and what it did failed. Not 3,
    which tells an agent the ComfyUI target is down and to propose the cloud.
    """

    code = "notify_failed"
    exit_code = ExitCode.FAILED
    default_hint = (
        "Check TELEGRAM_BOT_TOKEN, TELEGRAM_CHAT_ID and COMFYCINE_NOTIFY_COMMAND; "
        "details.outcomes says what each channel answered."
    )


class StillRunning(ComfycineError):
    """The wait ended while the job was still queued or running."""

    code = "still_running"
    exit_code = ExitCode.STILL_RUNNING
    default_hint = "Wait again with: comfycine wait JOB"


class CloudAccountError(ComfycineError):
    """Comfy Cloud refused the account: key, credits, plan or queue."""

    code = "cloud_account"
    exit_code = ExitCode.CLOUD_ACCOUNT
    default_hint = "Check the key and credits at platform.comfy.org."


class TargetAuthError(ComfycineError):
    """A ComfyUI target (not the cloud) refused its credentials: HTTP 401, or 403 with a
    challenge, from the server or a reverse proxy in front of it.

    Exit 7 like the cloud's key refusals: an account or credentials problem that no retry
    fixes. The message names the target and its URL (password masked) and what was sent;
    the hint names the setting to fix (``COMFYCINE_TARGET_<NAME>_TOKEN``...).
    """

    code = "target_auth"
    exit_code = ExitCode.CLOUD_ACCOUNT
    default_hint = (
        "Set COMFYCINE_TARGET_<NAME>_TOKEN (or _USER and _PASSWORD) for the target, "
        "then check with: comfycine targets"
    )


class OutputNotWritable(ComfycineError):
    """An output cannot be written: disk full, quota, read-only or unwritable folder.

    Not a bug and not a failed render: the job is recorded ``rendered`` and ``wait``
    downloads what is missing once there is room. Codes: ``disk_full`` (no space or
    quota), ``output_not_writable`` (permissions, read-only, a file where a folder goes).
    """

    code = "output_not_writable"
    exit_code = ExitCode.OUTPUT_NOT_WRITABLE
    default_hint = "Fix the output folder (COMFYCINE_OUTPUT_DIR), then: comfycine wait JOB"


class ConsentRequired(ComfycineError):
    """Spending money or installing on the PC needs an explicit yes: a flag, or a yes
    typed at a terminal. Codes: ``spend_not_allowed`` (partner nodes bill the Comfy
    account), ``install_not_allowed`` (``fix`` would install on the PC)."""

    code = "consent_required"
    exit_code = ExitCode.CONSENT
    default_hint = "Say yes with the flag the message names, or run it at a terminal."


class Interrupted(ComfycineError):
    """The user pressed Ctrl-C."""

    code = "interrupted"
    exit_code = ExitCode.INTERRUPTED
    default_hint = "Follow the job with: comfycine wait JOB"


class RecordedError(ComfycineError):
    """An error read back from the ledger: a job that already ended badly."""

    def __init__(self, error: dict[str, Any], *, job: str, status: str) -> None:
        details = dict(error.get("details") or {})
        details["job"] = job
        super().__init__(
            str(error.get("message") or f"Job {job[:8]} ended as {status}."),
            hint=str(error.get("hint") or f"See the job with: comfycine status {job[:8]} --json"),
            details=details,
            code=str(error.get("code") or status),
        )
        exit_value = error.get("exit")
        # Keep the exit code the job had when it failed (4 for rejected, 5 for failed...).
        self.exit_code = (  # type: ignore[misc]
            ExitCode(exit_value) if exit_value in set(ExitCode) else ExitCode.FAILED
        )

    def to_dict(self) -> dict[str, Any]:
        """The ``error`` object of the JSON envelope."""
        return super().to_dict()


def recordable(error: ComfycineError) -> dict[str, Any]:
    """The form of an error stored in the ledger (envelope fields plus the exit code)."""
    return {**error.to_dict(), "exit": int(error.exit_code)}
