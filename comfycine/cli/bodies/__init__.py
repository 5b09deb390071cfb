"""Command bodies free of Typer: what the hot commands do once their values are parsed.

The Typer declarations (``cli/jobs.py``, ``cli/workflow.py``) and the fast path
(``cli/fastpath``) both call these, so the two can never do different things.
"""
