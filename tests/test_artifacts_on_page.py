"""`render --artifacts`: the layout is read from produced files, which must agree with the release and the
manifests."""
from __future__ import annotations

import hashlib

import h5py
import numpy as np

from tests.conftest import build_site

NAME = "public-queries-10k-pca32v2.h5"


def write_queries(path, rows=10_000, key="pca32"):
    with h5py.File(path, "w", track_order=True) as h5:
        h5.create_dataset(key, data=np.zeros((rows, 32), dtype=np.float32), track_times=False)
    return hashlib.md5(path.read_bytes()).hexdigest(), path.stat().st_size


def point_manifests_at(data, md5, size):
    md5_path = data / "dataset-files-md5.txt"
    md5_path.write_text("".join(f"{md5}  {NAME}\n" if line.endswith(f"  {NAME}\n") else line
                                for line in md5_path.read_text().splitlines(keepends=True)))
    (data / "dataset-files-bytes.txt").write_text(f"{size} {NAME}\n")


def layout_cell(built):
    row = next(r for r in built.page().select("div.datasets table tbody tr") if r.select_one("code").get_text() == NAME)
    return row.find_all("td")[4].get_text(" ", strip=True)


def test_layout_of_a_produced_file_is_read_from_it(tmp_path, data_copy):
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    md5, size = write_queries(artifacts / NAME, rows=10_000)
    point_manifests_at(data_copy, md5, size)
    built = build_site(tmp_path / "site", data_copy, extra=["--artifacts", str(artifacts)])
    assert built.render.returncode == 0, built.render.stderr
    assert layout_cell(built) == "pca32 float32 10,000 × 32"


def test_a_produced_file_that_disagrees_with_the_manifests_is_reported(tmp_path, data_copy):
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    write_queries(artifacts / NAME, rows=10_000, key="emb")
    built = build_site(tmp_path / "strict", data_copy, extra=["--artifacts", str(artifacts)])
    assert built.render.returncode == 1
    problems = built.render.stderr
    assert (f"'{NAME}': {artifacts / NAME} holds datasets emb float32 (… × 32), bundle 'pca32' of the release "
            f"says pca32 float32 (… × 32)") in problems
    assert f"'{NAME}': {artifacts / NAME} has md5 " in problems and "the md5 manifest says 8c0fa4fff523" in problems
    assert "the size manifest says 1.3M" in problems
    assert not (tmp_path / "strict" / "docs" / "datasets.md").exists()


def test_an_artifacts_folder_that_does_not_exist_is_an_error(tmp_path, data_copy):
    built = build_site(tmp_path / "site", data_copy, extra=["--artifacts", str(tmp_path / "nowhere")])
    assert built.render.returncode == 1
    assert f"error: {tmp_path / 'nowhere'}: the artifacts folder does not exist" in built.render.stderr
