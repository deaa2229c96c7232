"""The one check every CLI test of bad input makes (shared by the CLI test modules)."""

from __future__ import annotations

from click.testing import Result


def assert_one_error(result: Result, *fragments: str) -> str:
    """Exit 2, empty stdout, a single 'error:' line on stderr holding every fragment, no
    traceback; the line is returned."""
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]
