"""`render --artifacts`: the layout is read from produced files, which must agree with the release and the
manifests."""
from __future__ import annotations

import hashlib

import h5py
import numpy as np

from tests.conftest import NEWEST, OLDER, build_site, edition_manifests

NAME = "public-queries-10k-pca32v2.h5"  # a file of the 2023 edition


def artifacts_root(tmp_path):
    """An artifacts folder as `render --artifacts` reads it: a folder per edition."""
    root = tmp_path / "artifacts"
    for edition in (OLDER, NEWEST):
        (root / edition).mkdir(parents=True)
    return root


def write_queries(path, rows=10_000, key="pca32"):
    with h5py.File(path, "w", track_order=True) as h5:
        h5.create_dataset(key, data=np.zeros((rows, 32), dtype=np.float32), track_times=False)
    return hashlib.md5(path.read_bytes()).hexdigest(), path.stat().st_size


def point_manifests_at(data, md5, size):
    folder = edition_manifests(data, OLDER)
    md5_path = folder / "dataset-files-md5.txt"
    md5_path.write_text("".join(f"{md5}  {NAME}\n" if line.endswith(f"  {NAME}\n") else line
                                for line in md5_path.read_text().splitlines(keepends=True)))
    (folder / "dataset-files-bytes.txt").write_text(f"{size} {NAME}\n")


def layout_cell(built):
    row = next(r for r in built.page(f"{OLDER}/datasets").select("div.datasets table tbody tr") if r.select_one("code").get_text() == NAME)
    return row.find_all("td")[4].get_text(" ", strip=True)


def test_layout_of_a_produced_file_is_read_from_it(tmp_path, data_copy):
    artifacts = artifacts_root(tmp_path)
    md5, size = write_queries(artifacts / OLDER / NAME, rows=10_000)
    point_manifests_at(data_copy, md5, size)
    built = build_site(tmp_path / "site", data_copy, extra=["--artifacts", str(artifacts)])
    assert built.render.returncode == 0, built.render.stderr
    assert layout_cell(built) == "pca32 float32 10,000 × 32"


def test_a_produced_file_that_disagrees_with_the_manifests_is_reported(tmp_path, data_copy):
    artifacts = artifacts_root(tmp_path)
    produced = artifacts / OLDER / NAME
    write_queries(produced, rows=10_000, key="emb")
    built = build_site(tmp_path / "strict", data_copy, extra=["--artifacts", str(artifacts)])
    assert built.render.returncode == 1
    problems = built.render.stderr
    assert (f"'{NAME}': {produced} holds datasets emb float32 (… × 32), bundle 'pca32' of the release "
            f"says pca32 float32 (… × 32)") in problems
    assert f"'{NAME}': {produced} has md5 " in problems and "the md5 manifest says 8c0fa4fff523" in problems
    assert "the size manifest says 1.3M" in problems
    docs = tmp_path / "strict" / "docs"
    assert not any((docs / name).exists() for name in ("datasets.md", "editions.md", OLDER, NEWEST))


def test_an_artifacts_folder_that_does_not_exist_is_an_error(tmp_path, data_copy):
    built = build_site(tmp_path / "site", data_copy, extra=["--artifacts", str(tmp_path / "nowhere")])
    assert built.render.returncode == 1
    # Named by the first edition's folder in it.
    assert f"error: {tmp_path / 'nowhere' / OLDER}: the artifacts folder does not exist" in built.render.stderr


def test_an_edition_without_its_artifacts_folder_is_an_error(tmp_path, data_copy):
    artifacts = artifacts_root(tmp_path)
    (artifacts / NEWEST).rmdir()
    built = build_site(tmp_path / "site", data_copy, extra=["--artifacts", str(artifacts)])
    assert built.render.returncode == 1
    assert f"error: {artifacts / NEWEST}: the artifacts folder does not exist" in built.render.stderr
