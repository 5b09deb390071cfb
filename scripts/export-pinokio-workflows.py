#!/usr/bin/env python3
"""Export the workflows saved in ComfyUI (Pinokio on the PC) as comfycine templates.

A thin wrapper over ``comfycine workflow import --all``: it lists the workflows saved on
the server (``/api/userdata?dir=workflows``), converts each from the UI format to the API
format with the server's own node schemas, puts ``PARAM_PROMPT`` where the prompt text
was, and writes ``NAME.json`` + ``NAME.meta.json`` into the templates folder without
replacing existing files.

    scripts/export-pinokio-workflows.py [--dest workflows] [--url http://100.x.y.z:8188] [--force]
"""

from __future__ import annotations

import argparse
import sys

from comfycine.cli.main import run


def main() -> int:
    """Parse the few options and hand over to the CLI."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dest", default="workflows", help="templates folder (default: workflows)")
    parser.add_argument("--url", help="ComfyUI URL (default: COMFYUI_URL)")
    parser.add_argument("--force", action="store_true", help="replace existing templates")
    parser.add_argument("--json", action="store_true", help="one JSON envelope on stdout")
    args = parser.parse_args()
    argv = ["workflow", "import", "--all", "--dest", args.dest]
    argv += ["--url", args.url] if args.url else []
    argv += ["--force"] if args.force else []
    argv += ["--json"] if args.json else []
    return run(argv)


if __name__ == "__main__":
    sys.exit(main())
