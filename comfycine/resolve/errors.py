"""What can go wrong between comfycine and DaVinci Resolve, as comfycine errors.

::

    UsageError (exit 2)
    ├── ResolveNotInstalled     resolve_not_installed   no scripting module on this machine
    ├── ResolveNoProject        resolve_no_project      Resolve runs, no project is open
    ├── ResolveNoTimeline       resolve_no_timeline     the project has no (such) timeline
    └── ResolveNothingSent      resolve_nothing_sent    receive before any send
    TargetUnreachable (exit 3)
    └── ResolveNotRunning       resolve_not_running     scriptapp("Resolve") answered None
    JobFailed (exit 5)
    ├── ResolveRenderFailed     resolve_render_failed   a pull's render job did not complete
    │                           (also resolve_busy, resolve_render_timeout,
    │                           resolve_render_refused)
    └── ResolveImportFailed     resolve_import_failed   a result could not be placed

``resolve_not_installed`` exits 2, not 3: nothing is down and no retry or other target
helps; the machine lacks Resolve Studio's scripting files, a setup problem like an
unknown template. Exit 3 tells an agent "the thing you talk to is not answering, try
again later", which is what ``resolve_not_running`` means.

Every hint names the way round Resolve's scripting: export the timeline and run
``comfycine conform TIMELINE TEMPLATE`` on the file.
"""

from __future__ import annotations

from ..errors import JobFailed, TargetUnreachable, UsageError

CONFORM_FALLBACK = (
    "Or export the timeline (File › Export › Timeline, FCPXML or EDL) and run: "
    "comfycine conform TIMELINE TEMPLATE"
)


class ResolveNotInstalled(UsageError):
    """DaVinciResolveScript is in none of the places Resolve documents, or will not load."""

    code = "resolve_not_installed"
    default_hint = (
        "Install DaVinci Resolve Studio (external scripting is a Studio feature), or set "
        "RESOLVE_SCRIPT_API and RESOLVE_SCRIPT_LIB as Resolve's scripting README says. "
        + CONFORM_FALLBACK
    )


class ResolveNotRunning(TargetUnreachable):
    """``scriptapp("Resolve")`` returned None: Resolve is not running, or it refuses
    external scripts (the free edition, or the preference set to None)."""

    code = "resolve_not_running"
    default_hint = (
        "Start DaVinci Resolve Studio and set Preferences › System › General › "
        "External scripting using: Local. " + CONFORM_FALLBACK
    )


class ResolveNoProject(UsageError):
    """Resolve answers but has no project open (it shows the Project Manager)."""

    code = "resolve_no_project"
    default_hint = "Open the project in Resolve, then run the command again."


class ResolveNoTimeline(UsageError):
    """The open project has no current timeline, or none by the name asked for."""

    code = "resolve_no_timeline"
    default_hint = "Open the timeline in Resolve's Edit page, then run the command again."


class ResolveNothingSent(UsageError):
    """``receive`` found no record of a ``send`` for this project and timeline."""

    code = "resolve_nothing_sent"
    default_hint = "Send the timeline's shots first: comfycine resolve send TEMPLATE"


class ResolveRenderFailed(JobFailed):
    """Resolve did not render every pull (failed, cancelled, refused, too slow or busy)."""

    code = "resolve_render_failed"
    default_hint = (
        "See the job in Resolve's Deliver page (render queue), then run "
        "comfycine resolve send TEMPLATE again."
    )


class ResolveImportFailed(JobFailed):
    """Resolve refused to import or place some results (the others are placed)."""

    code = "resolve_import_failed"
    default_hint = (
        "details.clips says what Resolve refused; the files are in the exchange folder "
        "to import by hand (File › Import › Media)."
    )
