"""``workflow import`` flags that cannot go together: exit 2 before any server is asked."""

from __future__ import annotations

import pytest

from tests.cli_support import Isolation, files_under, invoke
from tests.ports import closed_port


@pytest.mark.parametrize(
    ("argv", "code"),
    [
        (["--official", "default", "ltxv_text_to_video", "--as", "x"], "as_needs_one_name"),
        (["a", "b", "--as", "x"], "as_needs_one_name"),
        (["--all", "--as", "x"], "as_needs_one_name"),
        (["--official", "--all"], "official_with_all"),
    ],
)
def test_flags_that_do_not_go_together(argv: list[str], code: str, isolation: Isolation) -> None:
    """--as with several names, --official with --all: one error line, exit 2, no files."""
    url = f"http://127.0.0.1:{closed_port()}"  # asking the server would fail with exit 3
    result = invoke("workflow", "import", *argv, "--url", url, "--json")
    assert result.exit_code == 2, result
    assert result.envelope()["error"]["code"] == code
    assert result.stderr.count("error:") == 1 and "hint:" in result.stderr, result
    assert files_under(isolation.workflow_dir) == []
