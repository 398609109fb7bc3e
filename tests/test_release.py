"""The release definitions of the editions and the page's wording: the committed ones hold the published
facts (layouts, files, hosts, reuse); mistakes are errors naming their key and line."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from generator.errors import InputError
from generator.release.model import Selection
from generator.release.read import parse_release, parse_wording, read_release, read_wording
from generator.release.wording import Texts
from tests.conftest import ROOT

DATA = ROOT / "data"
RELEASES = DATA / "releases"
REFERENCE = ROOT / "tests" / "reference"

# The published layouts: file name pattern -> (dataset key, dtype, second dimension) of each dataset.
LAYOUTS = [
    (r"laion2B-en-clip768v2-n=\w+\.h5", [("emb", "float16", 768)]),
    (r"(public|private)-queries-10k-clip768v2\.h5", [("emb", "float32", 768)]),
    (r"(public|private)-queries-2024-laion2B-en-clip768v2-n=10k(-epsilon=0\.2)?\.h5", [("emb", "float32", 768)]),
    (r"(laion2B-en|(public|private)-queries-10k)-pca32v2(-n=\w+)?\.h5", [("pca32", "float32", 32)]),
    (r"(laion2B-en|(public|private)-queries-10k)-pca96v2(-n=\w+)?\.h5", [("pca96", "float32", 96)]),
    (r"(laion2B-en|(public|private)-queries-10k)-hammingv2(-n=\w+)?\.h5", [("hamming", "uint64", 16)]),
    (r"laion2B-en-public-gold-standard-v2-\w+-F64-IEEE754\.h5", [("knns", "int32", 1000), ("dists", "float32", 1000)]),
    (r"laion2B-en-private-gold-standard-v2-\w+-F64-IEEE754\.h5", [("knns", "int32", 10), ("dists", "float32", 10)]),
    (r"laion2B-en-public-gold-standard-v2-\w+\.h5", [("knns", "int32", 100), ("dists", "float32", 100)]),
    (r"gold-standard-dbsize=\w+--(public|private)-queries-2024-.*\.h5",
     [("knns", "int32", 1000), ("dists", "float32", 1000)]),
    (r"laion2B-en-pca-model-fitted-on-10M\.h5",
     [(f"pca{d}_{name}", "float64", cols) for d in (32, 96) for name, cols in (("mean", 768), ("components", d),
                                                                                ("eigenvalues", d))]),
]
LABELS = ("100K", "300K", "10M", "30M", "100M")


def md5_names(*folders: Path) -> dict[str, str]:
    """name -> md5 of the md5 manifests of published sets."""
    names: dict[str, str] = {}
    for folder in folders:
        for line in (folder / "dataset-files-md5.txt").read_text().splitlines():
            if line.strip() and not line.startswith("#"):
                digest, name = line.split()
                names.setdefault(name, digest)
    return names


@pytest.fixture(scope="module")
def release():
    return read_release(RELEASES / "2023.yml")


@pytest.fixture(scope="module")
def release_2024():
    return read_release(RELEASES / "2024.yml")


@pytest.fixture(scope="module")
def texts(release):
    return Texts(release, read_wording(DATA / "page.yml"))


def test_the_2023_edition_has_the_published_subsets_and_query_sets(release):
    subsets = {s.label: (s.first_part, s.last_part, s.rule, s.rows) for s in release.subsets}
    assert subsets == {"100K": (1, 1, "dev", 100000), "300K": (1, 1, "dev", 300000),
                       "10M": (1, 11, "strict", None), "30M": (1, 33, "strict", None),
                       "100M": (1, 111, "strict", None)}
    assert release.subset("10M").count == 10_120_191
    public, private = release.query_sets
    assert (public.label, public.source, public.part, public.count) == ("public", "drawn", 0, 10000)
    assert (private.label, private.source, private.part, private.count) == ("private", "selected", 1000, 10000)
    assert private.selection == Selection(candidates=20000, k=10, min_sum=0.1, against="100M")
    assert release.pca_train == "10M" and release.recall_k == 30 and release.recall_queries == "public"
    assert release.gold_k("public") == 1000 and release.gold_k("private") == 10
    assert release.sketches.model == DATA / "models" / "binwalk" / "binwalk-model-nrefs=1024-permsize=64.jld2"
    assert release.sketches.model.is_file() and (release.sketches.model.parent / "LICENSE").is_file()
    assert release.parts == list(range(0, 112)) + [1000]
    assert dict(release.hosts) == {"s3": "https://sisap-23-challenge.s3.amazonaws.com/SISAP23-Challenge",
                                   "ingeotec": "http://ingeotec.mx/~sadit/SISAP23-Challenge"}


def test_2023_publishes_the_43_files_of_its_final_page_with_the_private_hamming_file(release):
    published = [b.name for b in release.published()]
    assert len(published) == len(set(published)) == 43
    reference = md5_names(REFERENCE / "sisap2023-raw", REFERENCE / "laion2b-2023")
    assert set(published) <= set(reference)
    assert "private-queries-10k-hammingv2.h5" in published
    assert {name for name in published if "private" in name} == {
        "private-queries-10k-clip768v2.h5", "private-queries-10k-pca32v2.h5", "private-queries-10k-pca96v2.h5",
        "private-queries-10k-hammingv2.h5"} | {f"laion2B-en-private-gold-standard-v2-{s}-F64-IEEE754.h5"
                                                for s in ("10M", "30M", "100M")}
    assert {name for name in published if name.endswith("-F64-IEEE754.h5") and "public" in name} == {
        f"laion2B-en-public-gold-standard-v2-{s}-F64-IEEE754.h5" for s in ("300K", "10M", "30M", "100M")}
    assert {name for name in published if name.startswith("meta-")} == {"meta-10M.tsv", "meta-30M.tsv", "meta-100M.tsv"}


def test_every_bundle_is_hosted_where_the_published_urls_say(release, release_2024):
    for edition, folder in ((release, "sisap2023-raw"), (release_2024, "sisap2024-raw")):
        urls = {line.strip().rsplit("/", 1)[1]: line.strip()
                for line in (REFERENCE / folder / "dataset-files-urls.txt").read_text().splitlines() if line.strip()}
        for bundle in edition.published():
            if bundle.name in urls:
                assert bundle.url == urls[bundle.name], bundle.name


def test_2024_reuses_2023_subsets_and_private_queries_and_marks_what_it_cannot_rebuild(release, release_2024):
    published = release_2024.published()
    assert {b.name for b in published} == set(md5_names(REFERENCE / "sisap2024-raw"))
    assert len(published) == 11
    by_name = {b.name: b for b in published}
    for label in ("300K", "10M", "100M"):
        bundle = by_name[f"laion2B-en-clip768v2-n={label}.h5"]
        assert bundle.source == "reused" and bundle.referenced and bundle.edition == "2023"
        assert bundle.url == release.bundle(release.embeddings, label).url
    queries = by_name["public-queries-2024-laion2B-en-clip768v2-n=10k.h5"]
    assert (queries.source, queries.from_edition, queries.from_name) == ("reused", "2023",
                                                                         "private-queries-10k-clip768v2.h5")
    assert not queries.referenced and queries.edition == "2024"
    assert {b.name for b in published if b.source == "external"} == {
        "laion2B-en-clip768v2-n=1M.h5", "private-queries-2024-laion2B-en-clip768v2-n=10k-epsilon=0.2.h5"}
    assert {b.name for b in published if b.source == "built"} == {b.name for b in published if "gold" in b.name}
    assert release_2024.parts == [] and release_2024.base == release


def test_every_hdf5_bundle_has_the_published_layout(release, release_2024):
    for bundle in release.bundles() + release_2024.bundles():
        if bundle.name.endswith(".tsv"):
            assert bundle.layout.columns == ("caption", "NSFW", "LICENSE", "url")
            continue
        layout = next(layout for pattern, layout in LAYOUTS if re.fullmatch(pattern, bundle.name))
        assert [(d.key, d.dtype, d.cols) for d in bundle.layout.datasets] == layout, bundle.name


def test_descriptions_name_the_subset_and_query_set_of_the_file(release, texts):
    for bundle in release.published():
        description = texts.description(bundle)
        label = re.search(r"(?:n=|-v2-|meta-)(\d+[KM])[.-]", bundle.name)
        if label:
            assert f"the {label.group(1)} " in description, bundle.name
            others = set(LABELS) - {label.group(1)}
            assert not any(f"the {other} " in description for other in others), description
            assert bundle.rows_text == ("10,000" if "gold-standard" in bundle.name
                                        else release.subset(label.group(1)).rows_text)
        else:
            assert "10,000 public queries" in description or "10,000 private queries" in description
            assert bundle.rows_text == "10,000"
    hundred_million = next(b for b in release.bundles() if b.name == "laion2B-en-clip768v2-n=100M.h5")
    description = texts.description(hundred_million)
    assert "100M subset" in description and "about 102M objects" in description and "100K" not in description
    gold = next(b for b in release.bundles() if b.name == "laion2B-en-public-gold-standard-v2-10M.h5")
    assert texts.description(gold).startswith("The 100 nearest neighbours of each of the 10,000 queries in the 10M")
    private = next(b for b in release.bundles() if b.name == "laion2B-en-private-gold-standard-v2-10M-F64-IEEE754.h5")
    assert texts.description(private).startswith("The 10 nearest neighbours")
    selected = texts.queries_phrase("private")
    assert "of 20,000 random draws" in selected and "in 100M differ" in selected and "more than 0.1" in selected


def test_warnings_are_shown_where_their_facts_hold(texts, release_2024):
    levels = {w.id: w.level for w in texts.wording.warnings}
    assert levels == {"dev-subsets": "warning", "projection-quality": "warning", "projection-training": "info"}
    caveat = next(w for w in texts.wording.warnings if w.id == "dev-subsets")
    assert texts.fill(caveat.title) == "The 100K and 300K subsets are not prefixes of the 10M, 30M and 100M subsets"
    assert all(texts.shows(w) for w in texts.wording.warnings)
    later = Texts(release_2024, texts.wording)
    assert [w.id for w in texts.wording.warnings if later.shows(w)] == ["dev-subsets"]
    assert later.fill(caveat.title) == "The 300K subsets are not prefixes of the 10M and 100M subsets"


def test_the_sample_editions_have_the_same_structure_at_small_scale(release):
    first, second = (read_release(RELEASES / f"sample-{year}.yml") for year in (2023, 2024))
    assert first.sample is not None and second.sample == first.sample and second.base == first
    assert {s.rule for s in first.subsets} == {"dev", "strict"}
    assert max(first.parts + second.parts) < first.sample.parts
    assert first.sketches.model is None
    assert [(k.id, k.of) for k in first.kinds] == [(k.id, k.of) for k in release.kinds]
    assert {q.source for q in second.query_sets} == {"reused", "selected", "external"}
    assert {s.source for s in second.subsets} == {"reused"}
    assert not [b for b in second.bundles() if b.kind.of == "embeddings" and not second.is_query_label(b.subset)
                and b.source != "reused"]
    wording = read_wording(DATA / "page.yml")
    for edition in (first, second):
        texts = Texts(edition, wording)
        assert all(texts.description(b) for b in edition.published())


VALID = """\
name: A release
date: 2024-01-01
hosts: {main: https://files.example.org/release}
host: main
subsets:
  - {label: 100K, parts: [1, 1], rule: dev, rows: 100000}
  - {label: 10M, parts: [1, 11], rule: strict}
query_sets:
  - {label: queries, source: drawn, part: 0, count: 10000, seed: 0}
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
recall: {k: 30, machine: "a test machine"}
"""


def test_a_small_release_is_read_with_its_bundles():
    release = parse_release(VALID, "release.yml")
    assert [b.name for b in release.published()] == ["emb-n=10M.h5", "queries-emb.h5", "pca32-n=10M.h5",
                                                      "gold-10M.h5", "gold-100K.h5"]
    assert [b.name for b in release.bundles() if not b.published] == ["emb-n=100K.h5", "pca32-n=100K.h5",
                                                                      "queries-pca32.h5"]
    assert release.bundles()[0].kind.origin.line == 11
    assert release.gold_k("queries") == 100 and release.recall_gold.id == "gold"


@pytest.mark.parametrize("old, new, line, message", [
    ("  - {label: 10M, parts: [1, 11], rule: strict}", "  - {label: 10M, part: [1, 11], rule: strict}",
     7, "unknown key 'part'"),
    ("rule: strict}", "rule: loose}", 7, "must be one of strict, dev, not 'loose'"),
    ("rule: dev, rows: 100000}", "rule: dev}", 6, "needs 'rows'"),
    ("parts: [1, 11]", "parts: [11, 1]", 7, "comes before the first"),
    ("  - {label: 10M,", "  - {label: 100K,", 7, "defined twice"),
    ("train: 10M", "train: 30M", 28, "'30M' is not one of the subsets"),
    ("recall: {k: 30, machine", "extra: 1\nrecall: {k: 30, machine", 31, "unknown key 'extra'"),
    (", machine: \"a test machine\"}", "}", 31, "recall lacks the required key 'machine'"),
    ("sample_rows: 100000", "sample_rows: 10", 30, "at least the 64 references"),
    ("{main: https://files.example.org/release}", "{main: ftp://files.example.org}", 3, "not an http(s) URL"),
    ("host: main", "host: mirror", 4, "host 'mirror' is not one of the hosts (main)"),
    ("date: 2024-01-01", "date: 1 January 2024", 2, "must be written YYYY-MM-DD"),
    ("    of: pca\n", "    of: pcb\n", 18, "must be one of embeddings, pca, pca-model, sketches, gold, meta, not 'pcb'"),
    ("file: pca32-n={subset}.h5", "file: pca32.h5", 19, "must hold '{subset}' once"),
    ("file: pca32-n={subset}.h5", "file: pca/32-n={subset}.h5", 19, "must be a plain file name"),
    ("file: pca32-n={subset}.h5", "file: emb-n={subset}.h5", 19, "is also a file of bundle 'clip768'"),
    ("publish: [10M]", "publish: [10M, 1M]", 22, "'1M' in publish of bundle 'pca32' is not one of its bundles"),
    ("publish: [10M, 100K]", "publish: [10M, queries]", 27, "'queries' in publish of bundle 'gold'"),
    ("{key: pca32, dtype: float32, cols: 32}", "{key: pca32, dtype: float16, cols: 32}", 21,
     "a bundle of pca is stored as float32 or float64, not float16"),
    ("{key: pca32, dtype: float32, cols: 32}", "{key: pca32, dtype: floaty, cols: 32}", 21, "not a numpy dtype"),
    ("{key: emb, dtype: float16, cols: 768}", "{key: emb, dtype: float16, cols: 512}", 15, "768 columns, not 512"),
    ("{key: dists, dtype: float32, cols: 100}", "{key: dists, dtype: float32, cols: 10}", 26,
     "two datasets of the same cols"),
    ("cols: 100}, {key: dists, dtype: float32, cols: 100}", "cols: 20}, {key: dists, dtype: float32, cols: 20}",
     11, "needs a gold standard of the 'queries' queries of at least recall k = 30"),
    ("rows: 100000}", "rows: ²}", 6, "rows of subset '100K' must be a whole number"),
    ("rows: 100000}", "rows: " + "9" * 5000 + "}", 6, "rows of subset '100K' must be a whole number"),
    ("source: drawn", "source: guessed", 9, "must be one of drawn, selected, reused, external, not 'guessed'"),
    ("source: drawn", "source: selected", 9, "a selected query set takes part, count, seed, candidates, k, min_sum, "
                                             "against; missing against, candidates, k, min_sum"),
    ("source: drawn, part: 0, count: 10000, seed: 0", "source: reused, from: private", 9,
     "is reused, but the release names no earlier edition ('reuses')"),
    ("  - {label: 10M, parts: [1, 11], rule: strict}", "  - {label: 10M, source: reused}", 7,
     "is reused, but the release names no earlier edition"),
    ("  - {label: 10M, parts: [1, 11], rule: strict}", "  - {label: 10M, source: external, parts: [1, 2]}", 7,
     "an external subset is not cut here"),
    ("seed: 0}", "seed: 0}\n  - {label: more, source: selected, part: 5, count: 10, seed: 1, candidates: 5, k: 10, "
                 "min_sum: 0.1, against: 10M}", 10, "5 candidates cannot give 10 queries"),
    ("seed: 0}", "seed: 0}\n  - {label: more, source: drawn, part: 5, count: 10, seed: 1}", 9,
     "query set 'more' is taken from part 5, which a subset also holds"),
    ("queries_file: queries-emb.h5", "queries_files: {queries: queries-emb.h5, other: x.h5}", 14,
     "queries_files of bundle 'clip768': 'other' is not a query set (queries)"),
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
  external: the {label} subset made elsewhere
query_sets:
  drawn: the {count} {label}
  selected: the {count} selected {label}
  reused: the {count} {label} of {from_edition}
  external: the {count} {label} made elsewhere
groups:
  clip768:
    title: Embeddings
    intro: Fitted on {train}.
    database: Embeddings of {subset}
    queries: Embeddings of {subset}
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
  license: https://licence.example/by
  contact: https://code.example/issues
"""


def test_wording_fills_its_placeholders_with_the_release_facts():
    release = parse_release(VALID, "release.yml")
    texts = Texts(release, parse_wording(WORDING, "page.yml"))
    first, queries = release.published()[:2]
    assert texts.description(first) == "Embeddings of the 10M subset (parts 0001–0011)"
    assert texts.description(queries) == "Embeddings of the 10,000 queries"
    assert texts.fill(texts.wording.warnings[0].title) == "Careful with 100K"


@pytest.mark.parametrize("old, new, line, message", [
    ("Fitted on {train}.", "Fitted on {trian}.", 13, "uses {trian}; it may use"),
    ("Embeddings of {subset}", "Embeddings of {subset.__class__}", 14, "is not a placeholder"),
    ("Embeddings of {subset}", "Embeddings of {subset", 14, "the database description of group 'clip768'"),
    ("title: Careful with {dev_subsets}", "title: Careful with {subset}", 19, "uses {subset}"),
    ("    title: Embeddings", "    titel: Embeddings", 12, "unknown key 'titel'"),
    ("level: warning", "level: shout", 18, "level 'shout' is not one of note, info, warning, danger"),
    ("drawn: the {count} {label}", "drawn: the {count} {lable}", 6, "uses {lable}"),
    ("drawn: the {count} {label}", "guessed: the {count}", 6, "unknown key 'guessed'"),
    ("  external: the {label} subset made elsewhere\n", "", 2, "subsets lacks the required key 'external'"),
])
def test_a_wrong_wording_is_an_error_naming_its_line(old, new, line, message):
    assert old in WORDING
    with pytest.raises(InputError) as error:
        parse_wording(WORDING.replace(old, new), "page.yml")
    assert any(p.origin.line == line and message in p.message for p in error.value.problems), str(error.value)


@pytest.mark.parametrize("reuses, message", [
    ("nowhere", "reuses 'nowhere', but there is no release file"),
    ("a", "editions reuse each other in a cycle: a -> a"),
    ("../up", "reuses '../up' is not an edition id"),
])
def test_a_wrong_earlier_edition_is_an_error_naming_its_line(tmp_path, reuses, message):
    path = tmp_path / "a.yml"
    path.write_text(VALID.replace("host: main\n", f"host: main\nreuses: {reuses}\n"))
    with pytest.raises(InputError) as error:
        read_release(path)
    assert any(p.origin.line == 5 and message in p.message for p in error.value.problems), str(error.value)


def test_a_reused_subset_the_earlier_edition_lacks_is_an_error(tmp_path):
    (tmp_path / "a.yml").write_text(VALID)
    later = tmp_path / "b.yml"
    later.write_text(VALID.replace("host: main\n", "host: main\nreuses: a\n")
                     .replace("  - {label: 10M, parts: [1, 11], rule: strict}", "  - {label: 30M, source: reused}"))
    with pytest.raises(InputError) as error:
        read_release(later)
    assert "subset '30M' is reused, but edition 'a' has no subset '30M' (100K, 10M)" in str(error.value)
