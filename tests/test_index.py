"""What the site publishes for tools (docs/design/index.md#what-the-site-publishes): the manifests and the index
datasets.json, valid
against its JSON Schema; `download` and `verify` reading that index (or a manifest) by URL."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from generator.cli import main
from generator.errors import InputError
from generator.manifests.index import index_json, parse_index
from generator.manifests.read import read_manifest_set
from generator.release.read import read_release
from tests.conftest import NEWEST, OLDER, ROOT

RELEASES = ROOT / "data" / "releases"

LAION2B = Path(sys.executable).parent / "laion2b"
SCHEMA = json.loads((ROOT / "docs" / "datasets.schema.json").read_text())
MANIFESTS = ("dataset-files-md5.txt", "dataset-files-size.txt", "dataset-files-urls.txt")


@pytest.mark.parametrize("edition, files", [(OLDER, 43), (NEWEST, 11)])
def test_the_site_publishes_the_manifests_and_an_index_of_every_bundle(committed_site, edition, files):
    site = committed_site.site
    folder = site / edition
    for name in MANIFESTS + ("datasets.json",):
        assert (folder / name).is_file(), name
    assert json.loads((site / "datasets.schema.json").read_text()) == SCHEMA
    document = json.loads((folder / "datasets.json").read_text())
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    jsonschema.validate(document, SCHEMA)

    release = read_release(RELEASES / f"{edition}.yml")
    manifests = read_manifest_set(RELEASES / edition)
    bundles = document["bundles"]
    assert [b["name"] for b in bundles] == [b.name for b in release.published()]
    assert len(bundles) == files
    for entry, bundle in zip(bundles, release.published()):
        name = bundle.name
        assert (entry["group"], entry["subset"]) == (bundle.group, bundle.subset)
        assert entry["origin"] == bundle.source
        assert entry["url"] == manifests.urls.get(name).value
        assert entry["md5"] == manifests.md5s.get(name).value
        assert entry["size"] == manifests.sizes.get(name).value.text and entry["bytes"] is None
    by_name = {b["name"]: b for b in bundles}
    assert by_name["laion2B-en-clip768v2-n=10M.h5"]["layout"] == {
        "format": "hdf5", "datasets": [{"key": "emb", "dtype": "float16", "shape": [10120191, 768]}]}
    assert by_name["laion2B-en-clip768v2-n=100M.h5"]["layout"]["datasets"][0]["shape"] == [None, 768]
    if edition == OLDER:
        assert by_name["meta-10M.tsv"]["layout"] == {"format": "tsv", "columns": ["caption", "NSFW", "LICENSE", "url"]}

    # The published md5 manifest is what `md5sum -c` reads: `HASH  NAME`, every bundle of the edition.
    md5_lines = (folder / "dataset-files-md5.txt").read_text().splitlines()
    assert md5_lines == [f"{b['md5']}  {b['name']}" for b in bundles]
    assert (folder / "dataset-files-urls.txt").read_text().splitlines() == [b["url"] for b in bundles]
    assert parse_index((folder / "datasets.json").read_text(), "datasets.json").bundles[0].name == bundles[0]["name"]


@pytest.mark.parametrize("edition", [OLDER, NEWEST])
def test_the_index_reads_back_what_it_wrote(committed_site, edition):
    index = parse_index((committed_site.site / edition / "datasets.json").read_text(), "datasets.json")
    assert parse_index(index_json(index), "datasets.json") == index


VALID = {"format": 1, "release": "R", "edition": "E", "bundles": [
    {"name": "a.h5", "group": "g", "subset": "s", "queries": None, "origin": "built",
     "url": "https://h.example/a.h5", "bytes": 10, "size": "10",
     "md5": "0" * 32, "layout": {"format": "hdf5", "datasets": [{"key": "emb", "dtype": "float16", "shape": [5, 2]}]}}]}


def spoiled(path: str, value) -> str:
    document = json.loads(json.dumps(VALID))
    target = document
    keys = path.split(".")
    for key in keys[:-1]:
        target = target[int(key)] if key.isdigit() else target[key]
    target[keys[-1]] = value
    return json.dumps(document)


@pytest.mark.parametrize("text, message", [
    ("{", "index.json:1: not valid JSON"),
    (spoiled("format", 2), "index format 2 is not the format 1 this version reads"),
    (spoiled("bundles.0.url", "javascript:alert(1)//a.h5"),
     "bundles[0].url 'javascript:alert(1)//a.h5' is not an http(s) URL"),
    (spoiled("bundles.0.md5", "xyz"), "bundles[0].md5 'xyz' is not 32 hexadecimal digits"),
    (spoiled("bundles.0.name", "../a.h5"), "bundles[0].name '../a.h5' is not a plain file name"),
    (spoiled("bundles.0.bytes", -1), "bundles[0].bytes must not be negative"),
    (spoiled("bundles.0.bytes", "10"), "bundles[0].bytes must be a whole number or null"),
    (spoiled("bundles.0.size", "12Q"), "bundles[0].size '12Q' is not a size"),
    (spoiled("bundles.0.layout", {"format": "zip"}), "bundles[0].layout.format must be 'hdf5' or 'tsv'"),
    (spoiled("bundles", VALID["bundles"] * 2), "'a.h5' is listed twice"),
    (spoiled("bundles.0.origin", "copied"), "bundles[0].origin must be one of built, reused, external"),
    ("[]", "the index must be an object"),
])
def test_a_broken_index_is_one_error_naming_where(text, message):
    with pytest.raises(InputError) as error:
        parse_index(text, "index.json")
    assert message in str(error.value)
    jsonschema.validate(VALID, SCHEMA)  # the spoiled ones start from a valid index


def run_laion2b(*args: str, cache: Path) -> subprocess.CompletedProcess:
    """The installed command, as a participant without a checkout runs it."""
    return subprocess.run([str(LAION2B), *args], capture_output=True, text=True, cwd=cache,
                          env=dict(os.environ, XDG_CACHE_HOME=str(cache)))


def subset_task(published, label: str) -> list[str]:
    """What `download --subset` fetches for a task on a subset: its files, its gold standards and
    every file of their query sets."""
    golds = [b for b in published if b.subset == label and b.kind.of == "gold"]
    query_sets = {gold.queries for gold in golds}
    return [b.name for b in published if b.subset == label or b.subset in query_sets]


def test_download_and_verify_by_the_index_url_of_a_served_site(loopback_site, tmp_path):
    """The 2023 edition's index, whose 10M subset has the most files."""
    index_url = loopback_site.index_url(OLDER)
    release = read_release(RELEASES / f"{OLDER}.yml")
    folder = tmp_path / "data"
    fetched = run_laion2b("download", "--index", index_url, "--subset", "10M", "--dir", str(folder), cache=tmp_path)
    assert fetched.returncode == 0, fetched.stderr
    tenm = subset_task(release.published(), "10M")
    assert len(tenm) > 2
    assert sorted(p.name for p in folder.iterdir()) == sorted(tenm)
    for name in tenm:
        assert (folder / name).read_bytes() == (loopback_site.files / name).read_bytes()
        assert f"{name}: OK (downloaded from {loopback_site.url}/files/" in fetched.stdout
    assert f"{len(tenm)} of {len(tenm)} files present and verified" in fetched.stdout

    (folder / tenm[0]).write_bytes(b"x" + (folder / tenm[0]).read_bytes()[1:])
    checked = run_laion2b("verify", str(folder), "--index", index_url, "--no-cache", cache=tmp_path)
    assert checked.returncode == 1
    assert f"{tenm[0]}: FAILED" in checked.stdout and f"{tenm[1]}: OK" in checked.stdout
    assert f"md5 is " in checked.stderr and f"{index_url} says" in checked.stderr


def test_the_newest_index_serves_the_files_it_reuses_from_the_older_edition(loopback_site, tmp_path):
    """The default page's index: its 10M subset is the 2023 embeddings (reused) and a 2024 gold standard."""
    index_url = loopback_site.index_url()
    folder = tmp_path / "data"
    fetched = run_laion2b("download", "--index", index_url, "--subset", "10M", "--dir", str(folder), cache=tmp_path)
    assert fetched.returncode == 0, fetched.stderr
    published = loopback_site.release.published()
    tenm = subset_task(published, "10M")
    sources = {b.name: b.source for b in published}
    assert {sources[name] for name in tenm} == {"reused", "built"}
    assert sorted(p.name for p in folder.iterdir()) == sorted(tenm)
    assert f"{len(tenm)} of {len(tenm)} files present and verified" in fetched.stdout


def test_verify_reads_the_published_md5_manifest_by_url(loopback_site, tmp_path, capsys):
    folder = tmp_path / "data"
    folder.mkdir()
    published = read_release(RELEASES / f"{OLDER}.yml").published()
    name = published[3].name
    (folder / name).write_bytes((loopback_site.files / name).read_bytes())
    status = main(["verify", str(folder), "--manifest", f"{loopback_site.site_url}/{OLDER}/dataset-files-md5.txt",
                   "--cache-dir", str(tmp_path / "cache")])
    out = capsys.readouterr().out
    assert status == 0 and f"{name}: OK" in out and f"1 OK, 0 FAILED, {len(published) - 1} missing" in out


@pytest.mark.parametrize("index, message", [
    ("ftp://127.0.0.1/datasets.json", "ftp://127.0.0.1/datasets.json: not an http(s) URL"),
    ("{site}/missing.json", "{site}/missing.json: HTTP 404"),
    ("{site}/datasets.json", "{site}/datasets.json: HTTP 404"),  # each edition's index is in its folder
    ("{site}/datasets.html", "{site}/datasets.html: the server sent an HTML page, not an index or a manifest"),
    ("{site}/2024/dataset-files-md5.txt", "{site}/2024/dataset-files-md5.txt:1: not valid JSON"),
    ("http://127.0.0.1:9/datasets.json", "http://127.0.0.1:9/datasets.json: cannot be fetched"),
])
def test_an_index_that_cannot_be_read_is_one_clear_error(loopback_site, tmp_path, capsys, index, message):
    index = index.format(site=loopback_site.site_url)
    status = main(["download", "--index", index, "--subset", "10M", "--dir", str(tmp_path / "d"),
                   "--cache-dir", str(tmp_path / "cache")])
    err = capsys.readouterr().err
    assert status == 1
    assert err.startswith("error: ") and message.format(site=loopback_site.site_url) in err
    assert not (tmp_path / "d").exists()


@pytest.mark.parametrize("edition", [OLDER, NEWEST])
def test_an_unknown_subset_of_the_index_names_the_known_ones(loopback_site, tmp_path, capsys, edition):
    index = loopback_site.index_url(edition)
    labels = list(dict.fromkeys(b.subset for b in read_release(RELEASES / f"{edition}.yml").published()))
    status = main(["download", "--index", index, "--subset", "10m", "--dir", str(tmp_path / "d")])
    assert status == 1
    assert (f"error: {index}: no published bundle of subset '10m' (subsets: {', '.join(labels)})"
            in capsys.readouterr().err)
