"""`phasecli docs` renders Markdown through the pager on a terminal and prints the source in a pipe."""

import sys

from shell_drive import run_on_terminal


def test_docs_on_a_terminal_are_rendered_through_the_pager():
    status, out, err = run_on_terminal([sys.executable, "-m", "phasecli", "docs", "verify"],
                                       env={"PAGER": "cat", "COLUMNS": "100", "TERM": "xterm"})
    assert status == 0 and err == ""
    lines = [line for line in out.split("\n") if line.strip()]
    assert "Can the infinite-width numbers be trusted" in lines[0] and not lines[0].startswith("#")
    assert not any(line.startswith(("# ", "## ", "| --- ")) for line in lines)  # no raw Markdown left
    assert max(map(len, lines)) <= 100


def test_docs_in_a_pipe_are_the_markdown_source(cli):
    r = cli("docs", "verify")
    assert r.returncode == 0 and r.stdout.startswith("# Can the infinite-width numbers be trusted")
    assert "\n    phasecli verify -a tanh" in r.stdout and "| --- |" in r.stdout  # code block, table
