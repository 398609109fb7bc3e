"""The Croissant description of the release (docs/design/releases.md#facts-for-dataset-search):
mlcroissant reads `croissant.json` without an error, its file objects are the entries of
`datasets.json`, the datasets page's head carries the same JSON-LD, and a broken facts file is
one error naming its line, with nothing written."""
from __future__ import annotations

import json
import logging
from pathlib import Path

import mlcroissant as mlc
import pytest

from generator.errors import InputError
from generator.manifests.index import DatasetIndex, IndexDataset, IndexEntry
from generator.release.facts import parse_facts, read_facts
from generator.site.croissant import croissant
from tests.conftest import NEWEST, OLDER, ROOT, BuiltSite, build_site, run_generator

FACTS = ROOT / "data" / "dataset-facts.yml"
SITE_URL = "https://sisap.example.org/laion/"


@pytest.fixture(scope="module")
def described_site(tmp_path_factory: pytest.TempPathFactory) -> BuiltSite:
    built = build_site(tmp_path_factory.mktemp("croissant-site"), ROOT / "data",
                       extra=["--facts", str(FACTS), "--site-url", SITE_URL])
    assert built.build is not None and built.build.returncode == 0, built.render.stderr
    return built


EDITIONS = {NEWEST: "", OLDER: f"{OLDER}/"}  # each edition's page, relative to the site


def edition_release(edition: str):
    from generator.release.read import read_release
    return read_release(ROOT / "data" / "releases" / f"{edition}.yml")


@pytest.mark.parametrize("edition", list(EDITIONS))
def test_mlcroissant_reads_the_description_without_an_error(described_site: BuiltSite, edition: str,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    path = described_site.site / edition / "croissant.json"
    with caplog.at_level(logging.WARNING):
        dataset = mlc.Dataset(jsonld=str(path))  # raises on any error of the description
    assert dataset.metadata.ctx.issues.errors == set()
    # The edition's date comes from its release file; only a version is missing (recommended, not required).
    assert all("version" in w for w in dataset.metadata.ctx.issues.warnings)
    assert "@context` is not standard" not in caplog.text
    release = edition_release(edition)
    assert dataset.metadata.name == release.name
    assert len(dataset.metadata.distribution) == len(release.published())


@pytest.mark.parametrize("edition", list(EDITIONS))
def test_its_file_objects_are_the_entries_of_the_index(described_site: BuiltSite, edition: str) -> None:
    document = json.loads((described_site.site / edition / "croissant.json").read_text())
    index = json.loads((described_site.site / edition / "datasets.json").read_text())
    formats = {"hdf5": "application/x-hdf5", "tsv": "text/tab-separated-values"}
    assert [(f["name"], f["contentUrl"], f["md5"], f["contentSize"], f["encodingFormat"])
            for f in document["distribution"]] == [
        (b["name"], b["url"], b["md5"], f"{b['bytes']} B" if b["bytes"] is not None else b["size"],
         formats[b["layout"]["format"]]) for b in index["bundles"]]
    assert {f["@type"] for f in document["distribution"]} == {"cr:FileObject"}
    facts = read_facts(FACTS)
    assert document["license"] == list(facts.licenses) and document["citeAs"] == facts.citation
    assert document["url"] == f"{SITE_URL}{EDITIONS[edition]}datasets.html"
    assert document["datePublished"] == edition_release(edition).date
    assert [c["name"] for c in document["creator"]] == [c.name for c in facts.creators]


def test_the_page_head_carries_the_same_json_ld(described_site: BuiltSite) -> None:
    for edition, folder in EDITIONS.items():
        document = json.loads((described_site.site / edition / "croissant.json").read_text())
        (script,) = described_site.page(f"{folder}datasets").select('head script[type="application/ld+json"]')
        assert json.loads(script.get_text()) == document, edition
    for other in ("index", "verify", "filter", "editions"):
        assert described_site.page(other).select('script[type="application/ld+json"]') == [], other
    assert not (described_site.site / "overrides").exists()  # the theme override is no page
    # One metadata block: the template's own keys still apply, none of it shows as text.
    markdown = (described_site.root / "docs" / "datasets.md").read_text()
    assert markdown.startswith("---\ncroissant: {") and markdown.count("\n---\n") == 1
    article = described_site.page().select_one("article")
    assert article is not None
    assert "croissant: {" not in article.get_text() and "hide:" not in article.get_text()


def test_without_facts_no_description_is_published(tmp_path: Path) -> None:
    """Run where there is no data/dataset-facts.yml and without --facts: no croissant.json, no metadata."""
    data = ROOT / "data"
    docs = tmp_path / "docs"
    run = run_generator("render", "--releases", str(data / "releases"), "--wording", str(data / "page.yml"),
                        "--data", str(data / "releases"), "--docs", str(docs), cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert (docs / NEWEST / "datasets.json").is_file() and not (docs / NEWEST / "croissant.json").exists()
    assert "croissant" not in (docs / "datasets.md").read_text()


def test_an_exact_size_is_stated_in_bytes_and_an_unsure_file_is_left_out() -> None:
    layout = (IndexDataset("emb", "float16", (5, 2)),)
    index = DatasetIndex("R", (
        IndexEntry("a.h5", "clip768", "10M", "https://h.example/a.h5", 1234, "1.3K", "0" * 32, layout),
        IndexEntry("b.tsv", "meta", "10M", "https://h.example/b.tsv", None, "19G", "1" * 32, (), ("caption",)),
        IndexEntry("c.h5", "gold", "10M", None, None, "1G", "2" * 32, layout)))
    document = croissant(index, read_facts(FACTS), "https://h.example/site/datasets.html")
    assert [(f["name"], f["contentSize"], f["encodingFormat"]) for f in document["distribution"]] == [
        ("a.h5", "1234 B", "application/x-hdf5"), ("b.tsv", "19G", "text/tab-separated-values")]
    assert document["url"] == "https://h.example/site/datasets.html"


@pytest.mark.parametrize("change, message", [
    (("licenses:\n  - https://creativecommons.org/licenses/by/4.0/", "licenses:\n  - CC-BY"),
     ":14: a licence 'CC-BY' is not an http(s) URL"),
    (("keywords:", "keyword:"), ":24: unknown key 'keyword' in the release facts"),
    (("keywords: [", "date_published: 2024-7-1\nkeywords: ["), ":24: date_published '2024-7-1' is not a date YYYY-MM-DD"),
    (("type: organization, url: https://laion.ai/", "type: company"),
     ":23: the creator's type 'company' is not 'person' or 'organization'"),
])
def test_a_broken_facts_file_is_one_error_naming_its_line_and_nothing_is_written(
        tmp_path: Path, change: tuple[str, str], message: str) -> None:
    text = FACTS.read_text()
    assert change[0] in text
    facts = tmp_path / "facts.yml"
    facts.write_text(text.replace(change[0], change[1], 1))
    with pytest.raises(InputError) as error:
        parse_facts(facts.read_text(), str(facts))
    assert f"{facts}{message}" in str(error.value)

    out = tmp_path / "page"
    run = run_generator("render", "--facts", str(facts), "--docs", str(out))
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert f"{facts}{message}" in run.stderr
    assert not out.exists()
