"""`make sample-site`: a pipeline run turned into the page of its release, every row, layout, size
and md5 produced on this machine, through the same code path as the challenge's page."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import h5py
import pytest
from bs4 import BeautifulSoup

from generator.release.read import read_release
from tests.conftest import FIRST, SECOND, run_generator


@pytest.fixture(scope="module")
def sample_site(tiny_sample_site):
    root, url, releases = tiny_sample_site
    return root, url, releases, root / "served", root / "site" / "site"


def rows(page: Path) -> dict[str, list]:
    soup = BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")
    table_rows = [row for table in soup.select("div.datasets table") for row in table.select("tbody tr")]
    return {row.select_one("td code").get_text(): row.find_all("td") for row in table_rows}


def h5py_layout(path: Path) -> str:
    """What the page should say of a file: each dataset's key, dtype and shape as h5py reads them."""
    if path.suffix == ".tsv":
        return "TSV: " + ", ".join(path.read_text(encoding="utf-8").split("\n", 1)[0].split("\t"))
    with h5py.File(path, "r") as file:
        return " ".join(f"{key} {item.dtype} {' × '.join(f'{n:,}' for n in item.shape)}"
                        for key, item in file.items())


@pytest.mark.parametrize("edition, page", [(FIRST, f"{FIRST}/datasets.html"), (SECOND, "datasets.html")])
def test_every_row_shows_what_h5py_stat_and_md5sum_say_of_the_produced_file(sample_site, edition, page):
    _, url, releases, served, site = sample_site
    release = read_release(releases / f"{edition}.yml")
    cells = rows(site / page)
    assert list(cells) == [bundle.name for bundle in release.published()]
    for bundle in release.published():
        file, _, size, md5, layout = cells[bundle.name]
        path = served / bundle.edition / bundle.name
        assert file.select_one("a")["href"] == f"{url}/{bundle.edition}/{bundle.name}"
        assert f"{os.stat(path).st_size:,} bytes" in size.get_text(), bundle.name
        md5sum = subprocess.run(["md5sum", bundle.name], cwd=path.parent, capture_output=True, text=True,
                                check=True).stdout.split()[0]
        assert md5.get_text(strip=True) == md5sum
        assert layout.get_text(" ", strip=True) == h5py_layout(path), bundle.name
    assert not any(td.select(".missing-value") for tds in cells.values() for td in tds)


def test_one_changed_byte_fails_strict_mode_and_is_marked_without_it(sample_site, tmp_path):
    _, _, releases, served, _ = sample_site
    release = read_release(releases / f"{FIRST}.yml")
    changed = tmp_path / "artifacts" / FIRST
    changed.mkdir(parents=True)
    out = served / FIRST
    for name in ("dataset-files-md5.txt", "dataset-files-size.txt", "dataset-files-bytes.txt",
                 "dataset-files-urls.txt"):
        shutil.copy(out / name, changed)
    name = next(b.name for b in release.published() if b.group == "gold")
    content = bytearray((out / name).read_bytes())
    content[-1] ^= 0x01
    (changed / name).write_bytes(content)
    docs = tmp_path / "docs"
    arguments = ["render", "--releases", str(releases), "--editions", FIRST, "--data", str(changed.parent),
                 "--artifacts", str(changed.parent), "--docs", str(docs)]

    strict = run_generator(*arguments)
    assert strict.returncode == 1 and "Traceback" not in strict.stderr
    assert f"'{name}': {changed / name} has md5 " in strict.stderr
    assert "1 problem(s) in the inputs; nothing was written" in strict.stderr
    assert not docs.exists()

    lenient = run_generator(*arguments, "--strict", "0")
    assert lenient.returncode == 0, lenient.stderr
    page = (docs / "datasets.md").read_text(encoding="utf-8")
    row = next(line for line in page.split("<tr>") if f"<code>{name}</code>" in line)
    md5_cell = row.split("<td>")[4]
    assert '<span class="missing-value">⚠ the file built here has md5 ' in md5_cell
    assert page.count("missing-value") == 1
