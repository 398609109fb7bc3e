"""Loading snippets (docs/design/data.md#loading-a-file): the Python snippet of every HDF5 bundle
the pipeline produces, run against that file, prints the shape and dtype its comment states (as
read from the file's layout, the way the page states it); the Julia snippet states the same
dataset transposed, with a Julia element type for every dtype a release may use."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from generator.manifests.index import IndexDataset
from generator.release.read import read_release
from generator.site.artifacts import read_layout
from generator.site.snippets import JULIA_TYPES, julia_snippet, python_snippet
from tests.conftest import FIRST, ROOT


@pytest.fixture(scope="module")
def artifacts(tiny_sample_site: tuple[Path, str, Path]) -> Path:
    """Every bundle of the first tiny edition, built once per session by `make sample-site`."""
    root, _, _ = tiny_sample_site
    return root / "served" / FIRST


def stated(snippet: str) -> list[str]:
    """What the snippet's comments say its print lines print."""
    return [line.split("  # prints: ", 1)[1] for line in snippet.splitlines() if "  # prints: " in line]


def test_every_python_snippet_prints_what_it_states(artifacts: Path) -> None:
    files = sorted(artifacts.glob("*.h5"))
    kinds = {name.name.split("-n=")[0].split("-v2-")[0] for name in files}
    assert len(files) >= 15 and {"laion2B-en-clip768v2", "laion2B-en-pca32v2", "laion2B-en-hammingv2",
                                 "laion2B-en-public-gold-standard"} <= kinds, kinds
    for path in files:
        layout = read_layout(path)
        datasets = [IndexDataset(d.key, d.dtype, d.shape) for d in layout.datasets]
        snippet = python_snippet(path.name, datasets)
        run = subprocess.run([sys.executable, "-c", snippet], cwd=artifacts, check=False, capture_output=True,
                             text=True)
        assert run.returncode == 0, (path.name, run.stderr)
        assert run.stdout.splitlines() == stated(snippet), path.name
        assert len(stated(snippet)) == len(datasets) >= 1


def test_the_julia_snippet_states_the_dataset_transposed_with_a_julia_type() -> None:
    datasets = [IndexDataset("knns", "int32", (100, 10)), IndexDataset("dists", "float32", (100, 10)),
                IndexDataset("emb", "float16", (None, 768))]
    snippet = julia_snippet("laion2B-en-public-gold-standard-v2-P2.h5", datasets)
    assert stated(snippet) == ["knns (10, 100) Int32", "dists (10, 100) Float32", "emb (768, N) Float16"]
    assert 'knns = h5read("laion2B-en-public-gold-standard-v2-P2.h5", "knns")' in snippet
    release = read_release(ROOT / "data" / "releases" / "2023.yml")
    dtypes = {d.dtype for kind in release.kinds for layout in (kind.layout, kind.queries_layout) if layout
              for d in layout.datasets}
    assert {"float16", "float32", "int32", "uint64"} <= dtypes <= set(JULIA_TYPES), dtypes
    assert julia_snippet("a$b.h5", datasets[:1]).count('h5read("a\\$b.h5", "knns")') == 1
