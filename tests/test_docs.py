"""Every python block of README.md and docs/*.md runs (issue: examples must not rot).

The blocks of one file run in order in one namespace (a page builds its example up block by
block), in a temporary working directory. A block right after the line
`<!-- illustrative -->` is only compiled: it shows a call that needs what a test cannot
have (a user's data, a GPU, minutes of training) and says so in the text.
"""

import os
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])
BLOCK = re.compile(r"(?P<marker><!-- illustrative -->\s*\n)?```python\n(?P<code>.*?)```",
                   re.S)


def blocks(path):
    """[(line, code, illustrative)] of the python blocks of a Markdown file."""
    text = path.read_text()
    return [(text.count("\n", 0, m.start("code")) + 1, m.group("code"),
             bool(m.group("marker"))) for m in BLOCK.finditer(text)]


def test_every_page_is_collected():
    names = {p.relative_to(ROOT).as_posix() for p in PAGES}
    assert "README.md" in names and "docs/write-your-own-cell.md" in names


@pytest.mark.parametrize("page", [p for p in PAGES if blocks(p)],
                         ids=lambda p: p.relative_to(ROOT).as_posix())
def test_python_blocks_run(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PYTHONHASHSEED", os.environ.get("PYTHONHASHSEED", "0"))
    namespace = {"__name__": "__docs__"}
    name = page.relative_to(ROOT).as_posix()
    for line, code, illustrative in blocks(page):
        compiled = compile(code, f"{name}:{line}", "exec")
        if not illustrative:
            exec(compiled, namespace)  # noqa: S102 - the point of the test


def _build(tmp_path, break_link):
    """`mkdocs build --strict` of a copy of the site (optionally with a broken link)."""
    import shutil
    import subprocess
    import sys

    docs = tmp_path / "docs"
    shutil.copytree(ROOT / "docs", docs, symlinks=False)
    if break_link:
        with open(docs / "cells.md", "a") as f:
            f.write("\n[a page that does not exist](no-such-page.md)\n")
    config = (ROOT / "mkdocs.yml").read_text().replace("paths: [.]", f"paths: [{ROOT}]")
    (tmp_path / "mkdocs.yml").write_text(config)
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir",
                           str(tmp_path / "site")], cwd=tmp_path, capture_output=True,
                          text=True, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})


def test_the_strict_docs_build_fails_on_a_broken_link(tmp_path):
    pytest.importorskip("mkdocs")
    broken = _build(tmp_path, break_link=True)
    assert broken.returncode != 0 and "no-such-page.md" in broken.stderr, broken.stderr[-2000:]
