"""The README stays short and says each thing once: at most 160 lines, its links lead to files
of the repository, and none of its paragraphs appears again, verbatim or nearly so, in the
site's pages (docs/) or CONTRIBUTING.md."""
from __future__ import annotations

import re
from difflib import SequenceMatcher
from pathlib import Path

from tests.conftest import ROOT

MAX_LINES = 160
NEARLY = 0.8       # SequenceMatcher ratio of two passages' words from which they count as one
MIN_WORDS = 8      # shorter passages (a heading, a one-line command) may well recur
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def passages(markdown: str) -> list[str]:
    """Blocks of a Markdown text separated by blank lines (a fenced block is one), as words."""
    blocks, current, fenced = [], [], False
    for line in markdown.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        if not line.strip() and not fenced:
            blocks.append(current)
            current = []
        else:
            current.append(line)
    blocks.append(current)
    return [" ".join(re.findall(r"\w+", " ".join(block).lower())) for block in blocks if block]


def repeated_passages(readme: str, pages: dict[str, str]) -> list[str]:
    """`page: passage` for each README passage of MIN_WORDS words or more that a page repeats."""
    found = []
    for passage in passages(readme):
        if len(passage.split()) < MIN_WORDS:
            continue
        for name, text in pages.items():
            if any(passage in other or SequenceMatcher(None, passage.split(), other.split()).ratio() >= NEARLY
                   for other in passages(text)):
                found.append(f"{name}: {passage[:80]}")
    return found


def doc_pages() -> dict[str, str]:
    pages = {path.relative_to(ROOT).as_posix(): path.read_text() for path in sorted((ROOT / "docs").rglob("*.md"))}
    pages["CONTRIBUTING.md"] = (ROOT / "CONTRIBUTING.md").read_text()
    return pages


def test_the_readme_is_short():
    assert len((ROOT / "README.md").read_text().splitlines()) <= MAX_LINES


def test_every_link_of_the_readme_leads_to_a_file_of_the_repository():
    targets = LINK.findall((ROOT / "README.md").read_text())
    assert targets
    assert [t for t in targets if not t.startswith("http") and not (ROOT / t).exists()] == []


def test_no_passage_of_the_readme_is_repeated_in_the_docs():
    assert repeated_passages((ROOT / "README.md").read_text(), doc_pages()) == []


def test_a_passage_copied_or_reworded_a_little_is_found():
    readme = "# Title\n\nThe pipeline builds every bundle of a release from the LAION parts, offline too.\n\nshort\n"
    pages = {"a.md": "Intro.\n\nThe pipeline builds every bundle of the release from LAION parts, offline too.\n",
             "b.md": "Something else entirely, said in other words about other things here.\n",
             "c.md": "A longer page.\n\nBefore. The pipeline builds every bundle of a release from the LAION parts, "
                     "offline too. After.\n"}
    assert repeated_passages(readme, pages) == [
        "a.md: the pipeline builds every bundle of a release from the laion parts offline too",
        "c.md: the pipeline builds every bundle of a release from the laion parts offline too"]
