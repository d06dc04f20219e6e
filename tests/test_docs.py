"""Documents named in the code exist, and the README links the architecture notes."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: Written by ``python benchmarks/run.py``, not kept in git.
GENERATED = {"benchmarks/results.md"}
MD = re.compile(r"[\w./-]+\.md\b")


def test_every_document_named_in_a_comment_or_docstring_exists() -> None:
    missing = []
    for folder in ("botmon_tui", "tests", "benchmarks", "scripts"):
        for path in sorted((REPO / folder).rglob("*.py")):
            for number, line in enumerate(path.read_text().splitlines(), 1):
                for name in MD.findall(line):
                    candidates = {name, f"{path.parent.relative_to(REPO)}/{name}"}
                    if not any((REPO / c).is_file() or c in GENERATED for c in candidates):
                        missing.append(f"{path.relative_to(REPO)}:{number}: {name}")
    assert not missing, missing


def test_the_readme_links_the_architecture_notes() -> None:
    development = (REPO / "README.md").read_text().split("## Development", 1)[1]
    assert "(docs/architecture.md)" in development
    assert (REPO / "docs/architecture.md").is_file()


def test_the_readme_settings_table_is_the_settings_table() -> None:
    """The README's table is made from botmon_tui.settings.SETTINGS; a setting added, renamed or
    given a new default changes it. To mend: paste the output of
    ``python -c 'from botmon_tui.settings import markdown_table; print(markdown_table(), end="")'``."""
    from botmon_tui.settings import PRECEDENCE, markdown_table

    readme = (REPO / "README.md").read_text()
    start = readme.index("-->\n", readme.index("<!-- settings table:")) + len("-->\n")
    end = readme.index("<!-- end of the settings table -->")
    assert readme[start:end] == markdown_table()
    assert f"`{PRECEDENCE}`" in readme
