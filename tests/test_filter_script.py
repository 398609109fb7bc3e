"""The NSFW filter script participants run on the original parts (docs/scripts/nsfw_filter.py): run on the
sample parts it writes the very arrays of the pipeline's subsets, strict and dev; a problem is one
`error:` line and no file; and the site shows the file itself, not a copy."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from generator.io.checksums import file_md5
from generator.release.read import read_release
from tests.conftest import ROOT, TINY_RELEASE, BuiltSite, run_generator

SCRIPT = ROOT / "docs" / "scripts" / "nsfw_filter.py"


def run_script(*args: str) -> subprocess.CompletedProcess[str]:
    """The script as a participant runs it: its own process, outside the project's package."""
    return subprocess.run([sys.executable, str(SCRIPT), *args], check=False, capture_output=True, text=True,
                          cwd=SCRIPT.parent)


@pytest.fixture(scope="module")
def pipeline_subsets(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """The tiny release's sample parts and its subsets, cut by the pipeline."""
    root = tmp_path_factory.mktemp("filter")
    release = root / "tiny.yml"
    release.write_text(TINY_RELEASE)
    parts, out = root / "parts", root / "out"
    common = ("pipeline", "--release", str(release), "--parts", str(parts), "--out", str(out))
    for stage in (("sample",), ("subset", "P2"), ("subset", "P5"), ("subset", "1500")):
        run = run_generator(*common, *stage)
        assert run.returncode == 0, run.stderr
    return release, parts, out


@pytest.mark.parametrize("label, args", [
    ("P2", ["--first", "1", "--last", "2", "--rule", "strict"]),
    ("P5", ["--first", "1", "--last", "5", "--rule", "strict"]),
    ("1500", ["--first", "1", "--last", "2", "--rule", "dev", "--rows", "1500"])])
def test_the_script_writes_the_arrays_of_the_pipelines_subset(pipeline_subsets: tuple[Path, Path, Path],
                                                               tmp_path: Path, label: str, args: list[str]) -> None:
    release_path, parts, out = pipeline_subsets
    release = read_release(release_path)
    published = out / release.bundle(release.embeddings, label).name
    mine = tmp_path / "mine.h5"
    run = run_script("--parts", str(parts), *args, "--out", str(mine))
    assert run.returncode == 0, run.stderr
    with h5py.File(published, "r") as theirs, h5py.File(mine, "r") as ours:
        assert list(ours) == list(theirs) == ["emb"]
        expected, got = theirs["emb"][...], ours["emb"][...]
    assert got.dtype == expected.dtype == np.float16 and got.shape == expected.shape
    assert got.tobytes() == expected.tobytes()
    # With the h5py of the constraints, the whole file too: same layout, no time stamps.
    assert file_md5(mine) == file_md5(published)
    assert run.stdout == f"{mine}: {len(expected):,} rows\n"


def test_a_subset_the_parts_cannot_fill_is_one_error_and_no_file(pipeline_subsets: tuple[Path, Path, Path],
                                                                  tmp_path: Path) -> None:
    _, parts, _ = pipeline_subsets
    run = run_script("--parts", str(parts), "--first", "1", "--last", "1", "--rule", "dev", "--rows", "5000",
                     "--out", str(tmp_path / "dev.h5"))
    assert run.returncode == 1 and run.stdout == ""
    assert re.fullmatch(r"error: parts 1\.\.1 hold only [\d,]+ rows the dev rule keeps, not the 5,000 asked for\n",
                        run.stderr), run.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_missing_part_is_one_error_naming_it_and_no_file(pipeline_subsets: tuple[Path, Path, Path],
                                                            tmp_path: Path) -> None:
    _, parts, _ = pipeline_subsets
    run = run_script("--parts", str(parts), "--first", "1", "--last", "9", "--rule", "strict",
                     "--out", str(tmp_path / "strict.h5"))
    assert run.returncode == 1 and run.stdout == ""
    assert run.stderr.splitlines()[-1] == f"error: {parts}/laion2B-en-metadata/metadata_0007.parquet: no such metadata part"
    assert list(tmp_path.iterdir()) == []


def test_a_part_missing_half_way_leaves_no_partial_file(pipeline_subsets: tuple[Path, Path, Path],
                                                         tmp_path: Path) -> None:
    """The embeddings of part 2 are missing: the file is started with part 1's rows, then removed."""
    _, parts, _ = pipeline_subsets
    damaged = tmp_path / "parts"
    shutil.copytree(parts, damaged)
    (damaged / "img_emb" / "img_emb_0002.npy").unlink()
    folder = tmp_path / "out"
    folder.mkdir()
    run = run_script("--parts", str(damaged), "--first", "1", "--last", "2", "--rule", "strict",
                     "--out", str(folder / "strict.h5"))
    assert run.returncode == 1 and run.stdout == ""
    first, error = run.stderr.splitlines()
    assert re.fullmatch(r"part 0001: [1-9][\d,]* rows kept", first), first  # the file had been started
    assert error == f"error: {damaged}/img_emb/img_emb_0002.npy: no such embeddings part"
    assert list(folder.iterdir()) == []


def test_the_tested_versions_it_states_are_those_of_the_constraints() -> None:
    pins = dict(line.split("==") for line in (ROOT / "constraints.txt").read_text().splitlines()
                if line and not line.startswith("#"))
    stated = re.search(r"Tested with Python (\S+), numpy (\S+), pyarrow (\S+) and h5py (\S+)\.", SCRIPT.read_text())
    assert stated is not None
    assert stated.group(1) == f"{sys.version_info.major}.{sys.version_info.minor}"
    assert (stated.group(2), stated.group(3), stated.group(4)) == (pins["numpy"], pins["pyarrow"], pins["h5py"])


def test_the_page_shows_the_script_file_itself(committed_site: BuiltSite) -> None:
    blocks = [pre.get_text() for pre in committed_site.page("filter").select("article pre")]
    assert SCRIPT.read_text(encoding="utf-8") in blocks
    assert (committed_site.site / "scripts" / "nsfw_filter.py").read_bytes() == SCRIPT.read_bytes()
