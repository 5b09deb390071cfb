"""``comfycine doctor``: the chain from this machine to ComfyUI, checked rung by rung.

Ladder (DESIGN.md "Diagnosis and doctor results"), each rung a :class:`Check` with a
status, the value measured and, unless it passed, the fix::

    config      settings and .env: where each value came from    fail: exit 2
    tailscale   CLI, daemon, login, the PC's peer online          fail: exit 3
    dns         the host name resolves                            fail: exit 3
    tcp         something accepts on the port (refused / timeout) fail: exit 3
    http        /system_stats answers as ComfyUI (version)        fail: exit 3
    websocket   /ws opens and sends its first status              fail: exit 3
    gpu         the device and its free VRAM                      warn only
    job         --deep: the testimage template rendered           fail: the job's exit
    templates   each template's nodes and models on the server    warn only
    cloud       the Comfy Cloud key accepted (when configured)    fail: exit 7
    notify      a notification channel configured (never sent)    warn only
    security    COMFYUI_URL is not a public address               warn only
    claude      comfycine in Claude Code: plugin, copy, duplicates warn only
    warm        warm start: on (its server), off, or no private socket warn only

:func:`run_doctor` returns a :class:`DoctorReport`: exit 0 when nothing failed, else
the exit code of the first failing rung. With the PC off it answers in about 3 s.
"""

from __future__ import annotations

from .checks import Check, DoctorReport
from .runner import LADDER, run_doctor, run_ladder

__all__ = ["LADDER", "Check", "DoctorReport", "run_doctor", "run_ladder"]
