"""Write docs/cli.md from the CLI's own --help (run after changing a command)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    """Regenerate the reference; ``--check`` only compares (exit 1 when it differs)."""
    sys.path.insert(0, str(ROOT))
    from comfycine.cli.reference import render_cli_reference

    target = ROOT / "docs" / "cli.md"
    text = render_cli_reference()
    if "--check" in sys.argv[1:]:
        current = target.read_text(encoding="utf-8") if target.exists() else ""
        if current != text:
            print("docs/cli.md is out of date: run python scripts/gen-cli-docs.py")
            return 1
        return 0
    target.write_text(text, encoding="utf-8")
    print(f"wrote {target.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
