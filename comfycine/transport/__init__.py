"""Everything that talks to a server: the one interface the job runner depends on.

* :mod:`.local` — :class:`ComfyClient`, a ComfyUI's HTTP API (the interface itself);
* :mod:`.cloud` — :class:`~.cloud.CloudClient`, Comfy Cloud behind the same interface;
* :mod:`.events` and :mod:`.eventstream` — the pure frame parser and the socket loop;
* :mod:`.polling` — following a job over HTTP when the socket cannot be had;
* :mod:`.updates` — the source of a job's updates: socket, polling, or both in turn;
* :mod:`.uploads` and :mod:`.downloads` — media in, outputs out;
* :mod:`.probe` — one bounded health check;
* :mod:`.reconnect` — the one reconnect policy all of the above share;
* :mod:`.records` and :mod:`.failures` — parsed answers, and the error boundary.

Only light modules are imported here: the cloud client, the socket and the probe are
imported where they are used, so a command that needs none of them stays fast.
"""

from __future__ import annotations

from .failures import map_http_errors, unreachable_error, unreachable_reason, validation_error
from .local import ComfyClient, prompt_body
from .records import HistoryEntry, OutputRef, QueueState, parse_history_entry, parse_outputs

__all__ = [
    "ComfyClient",
    "HistoryEntry",
    "OutputRef",
    "QueueState",
    "map_http_errors",
    "parse_history_entry",
    "parse_outputs",
    "prompt_body",
    "unreachable_error",
    "unreachable_reason",
    "validation_error",
]
