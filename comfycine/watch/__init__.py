"""``comfycine watch``: render what lands in the exchange folder, unattended.

* :mod:`.completeness` — when a file being exported is complete (stability, writers,
  ffprobe);
* :mod:`.exchange` — the folder layout, template choice, naming, filing inputs;
* :mod:`.items` — one file: its ledger key, the restart-safe decision, the job, filing;
* :mod:`.watcher` — the loop (watchdog hints + periodic rescan), ``once`` for cron;
* :mod:`.launchd` — the LaunchAgent plist for a Mac.
"""

from __future__ import annotations

from .completeness import FileState, Probes, StabilityTracker
from .decision import decide, item_key
from .exchange import Exchange
from .items import WatchSummary
from .launchd import LaunchdInstall, install_launchd
from .watcher import WatchOptions, watch, watch_exchange

__all__ = [
    "Exchange",
    "FileState",
    "LaunchdInstall",
    "Probes",
    "StabilityTracker",
    "WatchOptions",
    "WatchSummary",
    "decide",
    "install_launchd",
    "item_key",
    "watch",
    "watch_exchange",
]
