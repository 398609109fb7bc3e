"""The catalog: the committed one is right (SPEC §2 layouts, §4 descriptions); mistakes name their line."""
from __future__ import annotations

import re

import pytest

from generator.errors import InputError
from generator.inputs.catalog import parse_catalog, read_catalog
from tests.conftest import ROOT

# SPEC §2: file name pattern -> (dataset key, dtype, second dimension) of each dataset.
SPEC_LAYOUTS = [
    (r"laion2B-en-clip768v2-n=\w+\.h5", [("emb", "float16", 768)]),
    (r"public-queries-10k-clip768v2\.h5", [("emb", "float32", 768)]),
    (r"(laion2B-en|public-queries-10k)-pca32v2(-n=\w+)?\.h5", [("pca32", "float32", 32)]),
    (r"(laion2B-en|public-queries-10k)-pca96v2(-n=\w+)?\.h5", [("pca96", "float32", 96)]),
    (r"(laion2B-en|public-queries-10k)-hammingv2(-n=\w+)?\.h5", [("hamming", "uint64", 16)]),
    (r"laion2B-en-public-gold-standard-v2-\w+\.h5", [("knns", "int32", 100), ("dists", "float32", 100)]),
]


@pytest.fixture(scope="module")
def catalog():
    return read_catalog(ROOT / "data" / "catalog.yml")


def test_committed_catalog_lists_every_published_file_once(catalog):
    names = [f.name for f in catalog.files()]
    assert len(names) == len(set(names)) == 32
    assert [g.id for g in catalog.groups] == ["clip768", "pca32", "pca96", "hamming", "gold", "meta"]


def test_every_hdf5_kind_has_the_layout_of_spec_section_2(catalog):
    for file in catalog.files():
        if file.name.endswith(".tsv"):
            assert file.kind.columns == ("caption", "NSFW", "LICENSE", "url")
            continue
        (layout,) = [layout for pattern, layout in SPEC_LAYOUTS if re.fullmatch(pattern, file.name)]
        assert [(d.key, d.dtype, d.cols) for d in file.kind.datasets] == layout, file.name


def test_descriptions_name_the_subset_of_the_file(catalog):
    for file in catalog.files():
        label = re.search(r"(?:n=|-v2-|meta-)(\d+[KM])\.", file.name)
        if label:
            assert f"the {label.group(1)} " in file.description, file.name
            # a gold standard has a row per query, whatever its subset
            assert file.rows.label == ("queries" if "gold-standard" in file.name else label.group(1))
            others = {"100K", "300K", "10M", "30M", "100M"} - {label.group(1)}
            assert not any(f"the {other} " in file.description for other in others), file.description
        else:
            assert "public queries" in file.description and file.rows.rows == 10_000
    hundred_million = next(f for f in catalog.files() if f.name == "laion2B-en-clip768v2-n=100M.h5")
    assert "100M subset" in hundred_million.description and "100K" not in hundred_million.description


def test_warnings_cover_spec_section_4_5(catalog):
    levels = {w.id: w.level for w in catalog.warnings}
    assert levels == {"dev-subsets": "warning", "projection-quality": "warning", "projection-training": "info"}


CATALOG = """\
subsets:
  10M: {rows: 10120191}
kinds:
  pca32:
    datasets: [{key: pca32, dtype: float32, cols: 32}]
groups:
  - id: pca32
    title: 32d PCA
    intro: Projections.
    files:
      - name: laion2B-en-pca32v2-n=10M.h5
        description: 32d PCA of the 10M subset
        kind: pca32
        rows: 10M
"""


def test_a_small_catalog_is_read_with_origins():
    catalog = parse_catalog(CATALOG, "catalog.yml")
    (file,) = catalog.files()
    assert file.origin.line == 11 and file.rows.rows == 10120191 and file.kind.datasets[0].cols == 32


@pytest.mark.parametrize("old, new, line, message", [
    ("        description:", "        descripton:", 12, "unknown key 'descripton' in a file of group 'pca32'"),
    ("        kind: pca32\n", "", 11, "a file of group 'pca32' lacks the required key 'kind'"),
    ("        kind: pca32", "        kind: pca23", 13, "kind 'pca23' is not defined under 'kinds'"),
    ("        rows: 10M", "        rows: 10m", 14, "rows '10m' is not a subset defined under 'subsets'"),
    ("  10M: {rows: 10120191}", "  10M: {rows: many}", 2, "rows of subset '10M' must be a whole number of at least 1"),
    ("dtype: float32, cols: 32", "dtype: float32, cols: 32, shape: 2", 5, "unknown key 'shape' in a dataset"),
    ("groups:", "group:", 6, "unknown key 'group' in the catalog"),
    ("    title: 32d PCA", "    title: 32d PCA\n    title: again", 9, "key 'title' is given twice"),
    ("    intro: Projections.", "    intro: [a, b]", 9, "intro must be a non-empty text"),
])
def test_catalog_mistakes_are_errors_naming_key_and_line(old, new, line, message):
    assert old in CATALOG
    with pytest.raises(InputError) as error:
        parse_catalog(CATALOG.replace(old, new), "catalog.yml")
    assert any(p.origin.line == line and message in p.message for p in error.value.problems), str(error.value)
    assert "catalog.yml:" in str(error.value)


def test_a_file_listed_twice_is_an_error():
    text = CATALOG + CATALOG[CATALOG.index("      - name"):]
    with pytest.raises(InputError) as error:
        parse_catalog(text, "catalog.yml")
    assert "catalog.yml:15: 'laion2B-en-pca32v2-n=10M.h5' is already listed at line 11" in str(error.value)


@pytest.mark.parametrize("text, message", [
    ("", "the catalog is empty"),
    ("subsets: [unclosed\n", "not valid YAML"),
    ("- a list\n", "the catalog must be a mapping"),
])
def test_unreadable_catalogs(text, message):
    with pytest.raises(InputError) as error:
        parse_catalog(text, "catalog.yml")
    assert message in str(error.value)
