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
from tests.conftest import ROOT, TINY_RELEASE, run_generator


@pytest.fixture(scope="module")
def sample_site(tmp_path_factory):
    root = tmp_path_factory.mktemp("sample-site")
    release = root / "tiny.yml"
    release.write_text(TINY_RELEASE)
    run = subprocess.run(["make", "--no-print-directory", "-C", str(ROOT), "-j2", "sample-site", f"RELEASE={release}",
                          f"SAMPLE={root / 'parts'}", f"OUT={root / 'out'}", f"SAMPLE_SITE={root / 'site'}"],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    return read_release(release), root / "out", root / "site" / "site"


def rows(site: Path) -> dict[str, list]:
    soup = BeautifulSoup((site / "datasets.html").read_text(encoding="utf-8"), "html.parser")
    table_rows = [row for table in soup.select("div.datasets table") for row in table.select("tbody tr")]
    return {row.select_one("td code").get_text(): row.find_all("td") for row in table_rows}


def h5py_layout(path: Path) -> str:
    """What the page should say of a file: each dataset's key, dtype and shape as h5py reads them."""
    if path.suffix == ".tsv":
        return "TSV: " + ", ".join(path.read_text(encoding="utf-8").split("\n", 1)[0].split("\t"))
    with h5py.File(path, "r") as file:
        return " ".join(f"{key} {item.dtype} {' × '.join(f'{n:,}' for n in item.shape)}"
                        for key, item in file.items())


def test_every_row_shows_what_h5py_stat_and_md5sum_say_of_the_produced_file(sample_site):
    release, out, site = sample_site
    cells = rows(site)
    assert list(cells) == [bundle.name for bundle in release.published()]
    md5sum = dict(reversed(line.split("  ")) for line in subprocess.run(
        ["md5sum", *cells], cwd=out, capture_output=True, text=True, check=True).stdout.splitlines())
    for name, (file, _, size, md5, layout) in cells.items():
        assert file.select_one("a")["href"] == f"http://127.0.0.1:8008/tiny/{name}"
        assert f"{os.stat(out / name).st_size:,} bytes" in size.get_text(), name
        assert md5.get_text(strip=True) == md5sum[name]
        assert layout.get_text(" ", strip=True) == h5py_layout(out / name), name
    assert not any(td.select(".missing-value") for tds in cells.values() for td in tds)


def test_one_changed_byte_fails_strict_mode_and_is_marked_without_it(sample_site, tmp_path):
    release, out, _ = sample_site
    changed = tmp_path / "artifacts"
    changed.mkdir()
    for name in ("dataset-files-md5.txt", "dataset-files-size.txt", "dataset-files-bytes.txt",
                 "dataset-files-urls.txt"):
        shutil.copy(out / name, changed)
    name = next(b.name for b in release.published() if b.group == "gold")
    content = bytearray((out / name).read_bytes())
    content[-1] ^= 0x01
    (changed / name).write_bytes(content)
    arguments = ["render", "--release", str(tmp_path / "tiny.yml"), "--data", str(changed),
                 "--artifacts", str(changed), "--out", str(tmp_path / "datasets.md"),
                 "--plot", str(tmp_path / "plot.svg")]
    (tmp_path / "tiny.yml").write_text(TINY_RELEASE)

    strict = run_generator(*arguments)
    assert strict.returncode == 1 and "Traceback" not in strict.stderr
    assert f"'{name}': {changed / name} has md5 " in strict.stderr
    assert "1 problem(s) in the inputs; nothing was written" in strict.stderr
    assert not (tmp_path / "datasets.md").exists()

    lenient = run_generator(*arguments, "--strict", "0")
    assert lenient.returncode == 0, lenient.stderr
    page = (tmp_path / "datasets.md").read_text(encoding="utf-8")
    row = next(line for line in page.split("<tr>") if f"<code>{name}</code>" in line)
    md5_cell = row.split("<td>")[4]
    assert '<span class="missing-value">⚠ the file built here has md5 ' in md5_cell
    assert page.count("missing-value") == 1
