"""`STRICT=0` renders the page whatever is wrong with the inputs
(docs/design/failures.md#strict-and-lenient-rendering): each kind of problem is
shown with ⚠ and its reason in the cell it concerns, download commands leave an uncertain file out
with a comment, totals say "at least" when a size is unknown, a block with nothing to download says
so; strict mode fails on each kind and writes nothing. Rendered in this process (the command line
and the site build are tested with every kind at once in test_site.py)."""
from __future__ import annotations

import io
import re
from pathlib import Path

import h5py
import numpy as np
import pytest
from bs4 import BeautifulSoup

from generator.errors import ProjectError
from generator.site.build import SiteInputs, StrictModeFailure, publishable_releases, render_site
from tests.conftest import NEWEST, OLDER, edition_manifests

MD5, SIZES, URLS = "dataset-files-md5.txt", "dataset-files-size.txt", "dataset-files-urls.txt"
CELLS = {"url": 0, "size": 2, "md5": 3, "layout": 4}


def inputs(data: Path, docs: Path, strict: bool, artifacts: Path | None = None,
           site_url: str = "http://127.0.0.1:8000/") -> SiteInputs:
    releases = data / "releases"
    return SiteInputs(releases=publishable_releases(releases), wording=data / "page.yml", data=releases, docs=docs,
                      site_url=site_url, artifacts=artifacts, strict=strict)


def render(data: Path, out: Path, strict: bool, artifacts: Path | None = None) -> tuple[str, str]:
    """The Markdown of the 2023 edition's page (every edition is rendered) and the problems
    reported; the recall table is left out (no plot)."""
    report = io.StringIO()
    docs = out / "docs"
    render_site(inputs(data, docs, strict, artifacts), report)
    return (docs / OLDER / "datasets.md").read_text(encoding="utf-8"), report.getvalue()


@pytest.fixture
def manifests(data_copy: Path) -> Path:
    """The 2023 edition's manifests in the data copy, without its recall table (no plot to draw)."""
    folder = edition_manifests(data_copy, OLDER)
    (folder / "recall-projections.csv").unlink()
    return folder


def replace_line(path: Path, ending: str, new: str | None) -> int:
    """Replaces (or, with None, drops) the line ending with `ending`; returns its number."""
    lines = path.read_text().splitlines(keepends=True)
    number = next(n for n, line in enumerate(lines, 1) if line.rstrip("\n").endswith(ending))
    lines[number - 1] = "" if new is None else new + "\n"
    path.write_text("".join(lines))
    return number


def cell(markdown: str, name: str, field: str):
    soup = BeautifulSoup(markdown, "html.parser")
    row = next(r for r in soup.select("div.datasets tbody tr") if r.select_one("td code").get_text() == name)
    return row.find_all("td")[CELLS[field]]


def fenced_blocks(markdown: str) -> list[str]:
    """The command blocks of the page's Markdown, dedented."""
    return [re.sub(r"(?m)^ {4,}", "", block) for block in re.findall(r"``` bash\n(.*?)\n *```", markdown, re.S)]


def write_artifact(folder: Path, name: str, key: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with h5py.File(folder / name, "w") as h5:
        h5.create_dataset(key, data=np.zeros((10, 32), dtype=np.float32), track_times=False)


def spoil(kind: str, data: Path, tmp_path: Path) -> tuple[str, str, str, Path | None]:
    """Spoils an edition's manifests (`data`) with one kind of problem; returns the file concerned,
    the cell that must be marked, the reason it must show, and the artifacts root (if any: a folder
    per edition)."""
    if kind == "missing entry":
        replace_line(data / MD5, "  meta-30M.tsv", None)
        return "meta-30M.tsv", "md5", f"⚠ not in {data / MD5}", None
    if kind == "malformed line":
        line = replace_line(data / MD5, "  meta-10M.tsv", "a9abbe13fb19207fb240f74fc03e247  meta-10M.tsv")
        return "meta-10M.tsv", "md5", f"⚠ {data / MD5}:{line}: not an md5 line (expected 'HASH  NAME'", None
    if kind == "non-http URL":
        line = replace_line(data / URLS, "/meta-10M.tsv", "javascript:alert(1)//meta-10M.tsv")
        return ("meta-10M.tsv", "url",
                f"⚠ {data / URLS}:{line}: 'javascript:alert(1)//meta-10M.tsv' is not an http(s) URL", None)
    if kind == "duplicate with two values":
        first = replace_line(data / SIZES, " meta-10M.tsv", "1.8G meta-10M.tsv")
        with open(data / SIZES, "a") as sizes:
            sizes.write("2.1G meta-10M.tsv\n")
        return "meta-10M.tsv", "size", f"⚠ listed twice with different values in {data / SIZES}", None
    if kind == "artifact mismatch":
        write_artifact(tmp_path / "artifacts" / OLDER, "public-queries-10k-pca32v2.h5", key="emb")
        (tmp_path / "artifacts" / NEWEST).mkdir()
        return ("public-queries-10k-pca32v2.h5", "layout",
                "⚠ the file built here holds datasets emb float32 (… × 32), bundle 'pca32' of the release says "
                "pca32 float32 (… × 32)", tmp_path / "artifacts")
    raise ValueError(kind)


KINDS = ["missing entry", "malformed line", "non-http URL", "duplicate with two values", "artifact mismatch"]


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_of_problem_is_marked_in_its_cell_or_fails_strict_mode(kind, data_copy, manifests, tmp_path):
    name, field, reason, artifacts = spoil(kind, manifests, tmp_path)

    with pytest.raises(StrictModeFailure, match=r"problem\(s\) in the inputs; nothing was written"):
        render(data_copy, tmp_path / "strict", strict=True, artifacts=artifacts)
    assert not (tmp_path / "strict" / "docs").exists()

    markdown, report = render(data_copy, tmp_path / "lenient", strict=False, artifacts=artifacts)
    marks = [m.get_text() for m in cell(markdown, name, field).select(".missing-value")]
    assert any(mark.startswith(reason) for mark in marks), marks
    assert (reason[2:] if kind in ("malformed line", "non-http URL") else f"'{name}'") in report
    assert not BeautifulSoup(markdown, "html.parser").select('a[href^="javascript"]')
    if field == "url":
        assert cell(markdown, name, "url").select_one("a") is None  # a URL in doubt is no link
    if field in ("url", "md5"):
        # No command fetches a file whose URL or md5 is uncertain; each says why it left it out.
        for block in (b for b in fenced_blocks(markdown) if f" {name}" in b or f"out={name}" in b):
            assert block.startswith(f"# {name} is left out ({field}: "), block
            assert f"  {name}\n" not in block.split("\n", 1)[1]


def test_a_missing_size_makes_totals_say_at_least(data_copy, manifests, tmp_path):
    replace_line(manifests / SIZES, " meta-100M.tsv", None)
    markdown, _ = render(data_copy, tmp_path, strict=False)
    assert "3 files,\nat least ≈ 7.00G in total." in markdown  # the metadata table: 1.8G + 5.2G known
    assert "**Metadata tables**: 3 files, at least ≈ 7.00G:" in markdown
    assert "**Metadata tables**: 3 files, ≈ 25G:" not in markdown


def test_a_block_with_nothing_to_download_says_so_instead_of_commands(data_copy, manifests, tmp_path):
    for label in ("10M", "30M", "100M"):
        replace_line(manifests / URLS, f"/meta-{label}.tsv", None)
    markdown, report = render(data_copy, tmp_path, strict=False)
    meta = markdown.split('=== "meta"', 1)[1].split("### Check everything", 1)[0]
    assert "!!! warning \"Nothing to download here yet\"" in meta and "``` bash" not in meta
    assert "<code>meta-10M.tsv</code>, <code>meta-30M.tsv</code>, <code>meta-100M.tsv</code>" in meta
    assert report.count("is not in") == 3


def test_a_bad_line_naming_no_published_file_is_listed_at_the_top(data_copy, manifests, tmp_path):
    with open(manifests / MD5, "a") as md5:
        md5.write("not a line at all\n")
    markdown, report = render(data_copy, tmp_path, strict=False)
    top = markdown.split("## About", 1)[0]
    assert '!!! danger "This page was built from inputs with 1 problem(s)"' in top
    assert "not an md5 line" in top and "not an md5 line" in report


def test_a_site_url_that_is_not_http_is_one_clear_error(data_copy, tmp_path):
    with pytest.raises(ProjectError, match=r"^SITE_URL 'javascript:alert\(1\)' is not an http\(s\) URL$"):
        render_site(inputs(data_copy, tmp_path / "docs", True, site_url="javascript:alert(1)"), io.StringIO())
    assert not (tmp_path / "docs").exists()


def test_a_reused_file_that_disagrees_with_its_edition_is_marked_on_the_newest_page(data_copy, manifests, tmp_path):
    """The 2024 manifests give a file reused from 2023 another md5: strict mode fails, STRICT=0
    marks the md5 cell of the 2024 page and no command fetches the file."""
    name = "laion2B-en-clip768v2-n=10M.h5"
    newest = edition_manifests(data_copy, NEWEST) / MD5
    line = replace_line(newest, f"  {name}", f"{'0' * 32}  {name}")
    with pytest.raises(StrictModeFailure):
        render(data_copy, tmp_path / "strict", strict=True)
    assert not (tmp_path / "strict" / "docs").exists()
    docs = tmp_path / "lenient" / "docs"
    report = io.StringIO()
    render_site(inputs(data_copy, docs, False), report)
    markdown = (docs / "datasets.md").read_text(encoding="utf-8")
    marks = [m.get_text() for m in cell(markdown, name, "md5").select(".missing-value")]
    assert marks == [f"⚠ differs from edition {OLDER}'s"]
    assert f"{newest}:{line}: '{name}' is reused from edition {OLDER}" in report.getvalue()
    for block in (b for b in fenced_blocks(markdown) if f" {name}" in b or f"out={name}" in b):
        assert block.startswith(f"# {name} is left out (md5: "), block
    # The 2023 page, whose manifests are sound, is not marked.
    assert "missing-value" not in (docs / OLDER / "datasets.md").read_text(encoding="utf-8")
