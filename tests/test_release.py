"""The release definition and the page's wording: the committed ones are right (docs/design/data.md#bundle-layouts,
§4 descriptions, §8 one definition); mistakes are errors naming their key and line."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from generator.errors import InputError
from generator.release.read import parse_release, parse_wording, read_release, read_wording
from generator.release.wording import Texts
from tests.conftest import ROOT

DATA = ROOT / "data"

# docs/design/data.md#bundle-layouts: file name pattern -> (dataset key, dtype, second dimension) of each dataset.
DESIGN_LAYOUTS = [
    (r"laion2B-en-clip768v2-n=\w+\.h5", [("emb", "float16", 768)]),
    (r"public-queries-10k-clip768v2\.h5", [("emb", "float32", 768)]),
    (r"(laion2B-en|public-queries-10k)-pca32v2(-n=\w+)?\.h5", [("pca32", "float32", 32)]),
    (r"(laion2B-en|public-queries-10k)-pca96v2(-n=\w+)?\.h5", [("pca96", "float32", 96)]),
    (r"(laion2B-en|public-queries-10k)-hammingv2(-n=\w+)?\.h5", [("hamming", "uint64", 16)]),
    (r"laion2B-en-public-gold-standard-v2-\w+-F64-IEEE754\.h5", [("knns", "int32", 1000), ("dists", "float32", 1000)]),
    (r"laion2B-en-public-gold-standard-v2-\w+\.h5", [("knns", "int32", 100), ("dists", "float32", 100)]),
]
LABELS = ("100K", "300K", "10M", "30M", "100M")


@pytest.fixture(scope="module")
def release():
    return read_release(DATA / "release.yml")


@pytest.fixture(scope="module")
def texts(release):
    return Texts(release, read_wording(DATA / "page.yml"))


def test_the_challenge_release_reproduces_spec_section_2(release):
    subsets = {s.label: (s.first_part, s.last_part, s.rule, s.rows) for s in release.subsets}
    assert subsets == {"100K": (1, 1, "dev", 100000), "300K": (1, 1, "dev", 300000),
                       "10M": (1, 11, "strict", None), "30M": (1, 33, "strict", None),
                       "100M": (1, 111, "strict", None)}
    assert release.subset("10M").count == 10_120_191
    assert (release.queries.part, release.queries.count) == (0, 10000)
    assert release.pca_train == "10M" and release.recall_k == 30 and release.gold_k == 1000
    assert release.sketches.model == DATA / "models" / "binwalk" / "binwalk-model-nrefs=1024-permsize=64.jld2"
    assert release.sketches.model.is_file() and (release.sketches.model.parent / "LICENSE").is_file()
    assert release.parts == list(range(0, 112))


def test_it_publishes_the_32_bundles_of_the_published_manifests_and_builds_39(release):
    published = [b.name for b in release.published()]
    manifest = [line.split()[1] for line in (DATA / "dataset-files-md5.txt").read_text().splitlines()]
    assert published == manifest and len(published) == 32
    built = [b.name for b in release.bundles()]
    assert len(built) == len(set(built)) == 39
    assert set(built) - set(published) == {f"laion2B-en-public-gold-standard-v2-{s}-F64-IEEE754.h5" for s in LABELS} \
        | {"meta-100K.tsv", "meta-300K.tsv"}


def test_every_hdf5_bundle_has_the_layout_of_spec_section_2(release):
    for bundle in release.bundles():
        if bundle.name.endswith(".tsv"):
            assert bundle.layout.columns == ("caption", "NSFW", "LICENSE", "url")
            continue
        layout = next(layout for pattern, layout in DESIGN_LAYOUTS if re.fullmatch(pattern, bundle.name))
        assert [(d.key, d.dtype, d.cols) for d in bundle.layout.datasets] == layout, bundle.name


def test_descriptions_name_the_subset_of_the_file(release, texts):
    for bundle in release.published():
        description = texts.description(bundle)
        label = re.search(r"(?:n=|-v2-|meta-)(\d+[KM])\.", bundle.name)
        if label:
            assert f"the {label.group(1)} " in description, bundle.name
            others = set(LABELS) - {label.group(1)}
            assert not any(f"the {other} " in description for other in others), description
            assert bundle.rows_text == ("10,000" if "gold-standard" in bundle.name
                                        else release.subset(label.group(1)).rows_text)
        else:
            assert "10,000 public queries" in description and bundle.rows_text == "10,000"
    hundred_million = next(b for b in release.bundles() if b.name == "laion2B-en-clip768v2-n=100M.h5")
    description = texts.description(hundred_million)
    assert "100M subset" in description and "about 102M objects" in description and "100K" not in description
    gold = next(b for b in release.bundles() if b.name == "laion2B-en-public-gold-standard-v2-10M.h5")
    assert texts.description(gold).startswith("The 100 nearest neighbours of each public query in the 10M subset")


def test_warnings_cover_spec_section_4_5(texts):
    levels = {w.id: w.level for w in texts.wording.warnings}
    assert levels == {"dev-subsets": "warning", "projection-quality": "warning", "projection-training": "info"}
    caveat = next(w for w in texts.wording.warnings if w.id == "dev-subsets")
    assert texts.fill(caveat.title) == "The 100K and 300K subsets are not prefixes of the 10M, 30M and 100M subsets"


def test_the_sample_release_has_the_same_structure_at_small_scale():
    sample = read_release(DATA / "release-sample.yml")
    challenge = read_release(DATA / "release.yml")
    assert sample.sample is not None and sample.queries.part == 0
    assert {s.rule for s in sample.subsets} == {"dev", "strict"}
    assert max(sample.parts) < sample.sample.parts
    assert sample.sketches.model is None
    assert [(k.id, k.of, k.layout) for k in sample.kinds] == [(k.id, k.of, k.layout) for k in challenge.kinds]
    texts = Texts(sample, read_wording(DATA / "page.yml"))
    assert all(texts.description(b) for b in sample.published())


VALID = """\
name: A release
base_url: https://files.example.org/release
subsets:
  - {label: 100K, parts: [1, 1], rule: dev, rows: 100000}
  - {label: 10M, parts: [1, 11], rule: strict}
queries: {label: queries, part: 0, count: 10000, seed: 0}
bundles:
  - id: clip768
    of: embeddings
    file: emb-n={subset}.h5
    queries_file: queries-emb.h5
    datasets: [{key: emb, dtype: float16, cols: 768}]
    publish: [10M, queries]
  - id: pca32
    of: pca
    file: pca32-n={subset}.h5
    queries_file: queries-pca32.h5
    datasets: [{key: pca32, dtype: float32, cols: 32}]
    publish: [10M]
  - id: gold
    of: gold
    file: gold-{subset}.h5
    datasets: [{key: knns, dtype: int32, cols: 100}, {key: dists, dtype: float32, cols: 100}]
    publish: [10M, 100K]
pca: {train: 10M}
sketches:
  create: {seed: 0, sample_rows: 100000}
recall: {k: 30}
"""


def test_a_small_release_is_read_with_its_bundles():
    release = parse_release(VALID, "release.yml")
    assert [b.name for b in release.published()] == ["emb-n=10M.h5", "queries-emb.h5", "pca32-n=10M.h5",
                                                      "gold-10M.h5", "gold-100K.h5"]
    assert [b.name for b in release.bundles() if not b.published] == ["emb-n=100K.h5", "pca32-n=100K.h5",
                                                                      "queries-pca32.h5"]
    assert release.bundles()[0].kind.origin.line == 8
    assert release.gold_k == 100 and release.recall_gold.id == "gold"


@pytest.mark.parametrize("old, new, line, message", [
    ("  - {label: 10M, parts: [1, 11], rule: strict}", "  - {label: 10M, part: [1, 11], rule: strict}",
     5, "unknown key 'part'"),
    ("rule: strict}", "rule: loose}", 5, "must be one of strict, dev, not 'loose'"),
    ("rule: dev, rows: 100000}", "rule: dev}", 4, "needs 'rows'"),
    ("parts: [1, 11]", "parts: [11, 1]", 5, "comes before the first"),
    ("  - {label: 10M,", "  - {label: 100K,", 5, "defined twice"),
    ("train: 10M", "train: 30M", 25, "'30M' is not one of the subsets"),
    ("recall: {k: 30}", "recall: {k: 30}\nextra: 1", 29, "unknown key 'extra'"),
    ("sample_rows: 100000", "sample_rows: 10", 27, "at least the 64 references"),
    ("base_url: https://files.example.org/release", "base_url: ftp://files.example.org", 2, "not an http(s) URL"),
    ("    of: pca\n", "    of: pcb\n", 15, "must be one of embeddings, pca, sketches, gold, meta, not 'pcb'"),
    ("file: pca32-n={subset}.h5", "file: pca32.h5", 16, "must hold '{subset}' once"),
    ("file: pca32-n={subset}.h5", "file: pca/32-n={subset}.h5", 16, "must be a plain file name"),
    ("file: pca32-n={subset}.h5", "file: emb-n={subset}.h5", 16, "is also a file of bundle 'clip768'"),
    ("publish: [10M]", "publish: [10M, 1M]", 19, "'1M' in publish of bundle 'pca32' is not one of its bundles"),
    ("publish: [10M, 100K]", "publish: [10M, queries]", 24, "'queries' in publish of bundle 'gold'"),
    ("{key: pca32, dtype: float32, cols: 32}", "{key: pca32, dtype: float16, cols: 32}", 18,
     "a bundle of pca is stored as float32 or float64, not float16"),
    ("{key: pca32, dtype: float32, cols: 32}", "{key: pca32, dtype: floaty, cols: 32}", 18, "not a numpy dtype"),
    ("{key: emb, dtype: float16, cols: 768}", "{key: emb, dtype: float16, cols: 512}", 12, "768 columns, not 512"),
    ("{key: dists, dtype: float32, cols: 100}", "{key: dists, dtype: float32, cols: 10}", 23,
     "two datasets of the same cols"),
    ("cols: 100}, {key: dists, dtype: float32, cols: 100}", "cols: 20}, {key: dists, dtype: float32, cols: 20}",
     8, "needs a gold standard of at least recall k = 30"),
    ("rows: 100000}", "rows: ²}", 4, "rows of subset '100K' must be a whole number"),
    ("rows: 100000}", "rows: " + "9" * 5000 + "}", 4, "rows of subset '100K' must be a whole number"),
])
def test_a_wrong_release_is_an_error_naming_its_line(old, new, line, message):
    assert old in VALID
    with pytest.raises(InputError) as error:
        parse_release(VALID.replace(old, new, 1), "release.yml")
    assert any(p.origin.line == line and message in p.message for p in error.value.problems), str(error.value)


def test_model_paths_are_relative_to_the_release_folder():
    text = VALID.replace("  create: {seed: 0, sample_rows: 100000}", "  model: models/binwalk.jld2")
    assert parse_release(text, "conf/release.yml").sketches.model == Path("conf/models/binwalk.jld2")


@pytest.mark.parametrize("text, message", [
    ("", "the release definition is empty"),
    ("subsets: [unclosed\n", "not valid YAML"),
    ("- a list\n", "the release definition must be a mapping"),
    ("a: " + "[" * 5000 + "]" * 5000 + "\n", "nested too deeply"),
])
def test_unreadable_releases_are_one_clear_error(text, message):
    with pytest.raises(InputError) as error:
        parse_release(text, "release.yml")
    assert message in str(error.value)


WORDING = """\
subsets:
  strict: the {label} subset (parts {parts}{objects})
  dev: the {label} development subset (first {rows} rows)
queries: the {query_count} queries
groups:
  clip768:
    title: Embeddings
    intro: Fitted on {train}.
    database: Embeddings of {subset}
    queries: Embeddings of {queries}
warnings:
  - id: a
    level: warning
    title: Careful with {dev_subsets}
    text: They differ.
links:
  blog: https://laion.example/blog
  paper: https://arxiv.example/abs/1
  metadata: https://hub.example/laion
  parts: https://mirror.example/laion2B-en/
  evaluation: https://code.example/evaluation
"""


def test_wording_fills_its_placeholders_with_the_release_facts():
    release = parse_release(VALID, "release.yml")
    texts = Texts(release, parse_wording(WORDING, "page.yml"))
    first, queries = release.published()[:2]
    assert texts.description(first) == "Embeddings of the 10M subset (parts 0001–0011)"
    assert texts.description(queries) == "Embeddings of the 10,000 queries"
    assert texts.fill(texts.wording.warnings[0].title) == "Careful with 100K"


@pytest.mark.parametrize("old, new, line, message", [
    ("Fitted on {train}.", "Fitted on {trian}.", 8, "uses {trian}; it may use"),
    ("Embeddings of {subset}", "Embeddings of {subset.__class__}", 9, "is not a placeholder"),
    ("Embeddings of {subset}", "Embeddings of {subset", 9, "the database description of group 'clip768'"),
    ("title: Careful with {dev_subsets}", "title: Careful with {subset}", 14, "uses {subset}"),
    ("    title: Embeddings", "    titel: Embeddings", 7, "unknown key 'titel'"),
    ("level: warning", "level: shout", 13, "level 'shout' is not one of note, info, warning, danger"),
])
def test_a_wrong_wording_is_an_error_naming_its_line(old, new, line, message):
    assert old in WORDING
    with pytest.raises(InputError) as error:
        parse_wording(WORDING.replace(old, new), "page.yml")
    assert any(p.origin.line == line and message in p.message for p in error.value.problems), str(error.value)
