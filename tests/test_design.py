"""The design pages are where the repository's references lead (docs/design/index.md#self-contained):
every `docs/design/<page>.md#<heading>` written in a file of the repository names a page and a
heading that exist, and no file refers to a document or a path outside the repository."""
from __future__ import annotations

import re
import subprocess
import tempfile
from pathlib import Path

import pytest
from markdown.extensions.toc import slugify

from tests.conftest import ROOT

DESIGN = "docs/design"
REFERENCE = re.compile(r"docs/design/([\w.-]*)(?:#([\w-]*))?")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
# A document this repository does not hold, cited by its old name: spelt in pieces so that
# this test does not find itself.
OUTSIDE_DOCUMENT = re.compile(r"\b" + "S" + "PEC" + r"\b")
BESIDE = re.compile(r"\.\./(\.\./)*shared|shared" + "/reference")


def repository_files(root: Path) -> dict[str, str]:
    """Every text file git would commit under `root` (tracked, or new and not ignored), by path."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=root, capture_output=True, text=True, check=True).stdout
    texts = {}
    for name in sorted(set(filter(None, listed.split("\0")))):
        path = root / name
        if not path.is_file():
            continue
        try:
            texts[name] = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # binary: a model, an HDF5 fixture
    return texts


def headings(page: str) -> set[str]:
    """The MkDocs anchors of a Markdown page's headings (code blocks left out)."""
    return {slugify(title, "-") for title in HEADING.findall(FENCE.sub("", page))}


def unresolved_references(texts: dict[str, str]) -> list[str]:
    """`file: reference` for each design reference whose page or heading does not exist."""
    anchors = {name.removeprefix(DESIGN + "/"): headings(text)
               for name, text in texts.items() if name.startswith(DESIGN + "/") and name.endswith(".md")}
    broken = []
    for name, text in texts.items():
        for match in REFERENCE.finditer(text):
            page, anchor = match.groups()
            if not page:
                continue  # the folder itself, or the pattern `docs/design/<page>.md` in prose
            if page not in anchors or (anchor is not None and anchor not in anchors[page]):
                broken.append(f"{name}: {match.group(0)}")
    return broken


def outside_mentions(texts: dict[str, str], root: Path) -> list[str]:
    """`file:line: text` for each mention of the old outside document, of a folder beside the
    repository, or of the folder the repository sits in or the user's home folder."""
    # The folder the repository sits in, unless that is the system's temporary folder (a clone
    # made there), whose paths the help texts give as examples.
    beside = [root.parent] if root.parent != Path(tempfile.gettempdir()) else []
    places = [re.escape(str(folder) + "/") for folder in [*beside, Path.home()] if folder != Path(folder.anchor)]
    outside = re.compile("|".join([OUTSIDE_DOCUMENT.pattern, BESIDE.pattern, *places]))
    found = []
    for name, text in texts.items():
        for number, line in enumerate(text.splitlines(), 1):
            if outside.search(line):
                found.append(f"{name}:{number}: {line.strip()}")
    return found


@pytest.fixture(scope="module")
def texts() -> dict[str, str]:
    return repository_files(ROOT)


def test_every_design_reference_names_an_existing_heading(texts):
    assert sum(len(REFERENCE.findall(text)) for text in texts.values()) > 50
    assert unresolved_references(texts) == []


def test_nothing_refers_outside_the_repository(texts):
    assert outside_mentions(texts, ROOT) == []


def test_a_reference_to_a_missing_heading_or_page_is_reported():
    # The references are spelt with DESIGN so that the test over the repository does not find these.
    texts = {f"{DESIGN}/data.md": "# The data\n\n## Gold standards\n\n```\n# not a heading\n```\n",
             "generator/x.py": f"# see {DESIGN}/data.md#gold-standards and {DESIGN}/data.md#not-a-heading\n",
             "Makefile": f"# {DESIGN}/data.md#the-data, {DESIGN}/gone.md, {DESIGN}/data.md\n"}
    assert unresolved_references(texts) == [f"generator/x.py: {DESIGN}/data.md#not-a-heading",
                                            f"Makefile: {DESIGN}/gone.md"]


def test_a_mention_of_an_outside_path_is_reported(tmp_path):
    root = tmp_path / "repository"
    assert root.parent != Path(tempfile.gettempdir())
    texts = {"a.py": f"ok = 1\nPATH = '{tmp_path}/notes.md'\n",
             "b.md": "as " + "S" + "PEC §2 says\n_MARKDOWN_SPECIAL is fine\n",
             "c.txt": "../../sha" + "red/reference/x\n"}
    assert outside_mentions(texts, root) == [f"a.py:2: PATH = '{tmp_path}/notes.md'",
                                             "b.md:1: as " + "S" + "PEC §2 says",
                                             "c.txt:1: ../../sha" + "red/reference/x"]
