"""Two editions built offline: the second reuses the first's subsets and one of its query sets by
reference, adds a selected and an external query set, builds no database bundle, and both pages
publish files a participant's tools fetch from a loopback copy of the site."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from urllib.parse import urljoin

import h5py
import jsonschema
import numpy as np
import pytest
import requests
from bs4 import BeautifulSoup

from generator.manifests.model import SIZE_UNITS, human_total
from generator.manifests.index import IndexDataset
from generator.manifests.read import read_manifest_set
from generator.pipeline import stages
from generator.pipeline.parts import npy_path
from generator.pipeline.queries import candidate_rows
from generator.release.read import read_release
from generator.site.artifacts import read_layout
from generator.site.snippets import JULIA_TYPES, julia_snippet, python_snippet
from tests.conftest import FIRST, ROOT, SECOND, run_generator
from tests.page_blocks import loading_examples, quick_start


@pytest.fixture(scope="module")
def editions(tiny_sample_site):
    return tiny_sample_site


def make_dry_run(root: Path, releases: Path, out_root: Path, edition: str) -> list[str]:
    run = subprocess.run(["make", "--no-print-directory", "-C", str(ROOT), "-n", "artifacts", f"EDITION={edition}",
                          f"RELEASES={releases}", f"PARTS={root / 'parts'}", f"ARTIFACTS_ROOT={out_root}"],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    return [line for line in run.stdout.splitlines() if " -m generator pipeline " in line]


def test_the_second_edition_builds_no_database_bundle_and_references_the_first(editions, tmp_path):
    root, _, releases = editions
    served = root / "served"
    # The second edition from scratch beside a built first one: its external file is all it is given.
    out_root = tmp_path / "artifacts"
    shutil.copytree(served / FIRST, out_root / FIRST)
    second = read_release(releases / f"{SECOND}.yml")
    (out_root / SECOND).mkdir()
    external = next(b for b in second.bundles() if b.source == "external")
    shutil.copy(served / SECOND / external.name, out_root / SECOND / external.name)
    commands = make_dry_run(root, releases, out_root, SECOND)
    stages_run = [line.split(" -m generator pipeline ")[1].split() for line in commands]
    stage_names = {words[words.index("--out") + 2] for words in stages_run}
    assert stage_names - {"rules"} == {"queries", "gold", "manifests"}, commands
    assert not any("clip768v2-n=" in line for line in commands)
    assert make_dry_run(root, releases, served, SECOND) == [], "a second run with nothing changed does nothing"


def test_reused_files_are_the_first_editions_bytes_urls_and_md5s(editions):
    root, url, releases = editions
    served = root / "served"
    first, second = (read_release(releases / f"{edition}.yml") for edition in (FIRST, SECOND))
    mine, theirs = read_manifest_set(served / SECOND), read_manifest_set(served / FIRST)
    for label in ("P2", "P5"):
        name = first.embeddings_file(label)
        assert not (served / SECOND / name).exists(), "a referenced file is not copied"
        assert mine.urls.get(name).value == theirs.urls.get(name).value == f"{url}/{FIRST}/{name}"
        assert mine.md5s.get(name).value == theirs.md5s.get(name).value
    copied = second.embeddings_bundle("again")
    assert (copied.source, copied.from_edition) == ("reused", FIRST)
    assert (served / SECOND / copied.name).read_bytes() == (served / FIRST / copied.from_name).read_bytes()
    assert mine.urls.get(copied.name).value == f"{url}/{SECOND}/{copied.name}"


def test_every_link_of_both_pages_resolves_on_the_served_site(editions):
    root, url, _ = editions
    site = root / "site" / "site"
    for page in ("datasets.html", f"{FIRST}/datasets.html"):
        soup = BeautifulSoup((site / page).read_text(encoding="utf-8"), "html.parser")
        hrefs = {a["href"] for a in soup.select("article a[href]") if not a["href"].startswith("#")}
        downloads = {a["href"] for a in soup.select("div.datasets a[href]")}
        assert downloads and all(href.startswith(f"{url}/") for href in downloads)
        for href in sorted(hrefs):
            if href.startswith("http") and not href.startswith(url):
                continue  # the page's links to the world outside (LAION, arXiv) are not served here
            target = urljoin(f"{url}/site/{page}", href).split("#")[0]
            answer = requests.get(target, timeout=10)
            assert answer.status_code == 200, (page, href)
    newest = BeautifulSoup((site / f"{FIRST}/datasets.html").read_text(encoding="utf-8"), "html.parser")
    assert "The newest edition is" in newest.get_text()


def test_download_by_the_second_editions_index_fetches_its_files_for_a_subset(editions, tmp_path):
    root, url, releases = editions
    second = read_release(releases / f"{SECOND}.yml")
    target = tmp_path / "downloads"
    run = subprocess.run([sys.executable, "-m", "generator", "download", "--index",
                          f"{url}/site/{SECOND}/datasets.json", "--subset", "P5", "--dir", str(target),
                          "--cache-dir", str(tmp_path / "cache")], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    gold = [b for b in second.published() if b.kind.of == "gold" and b.subset == "P5"]
    expected = {second.embeddings_file("P5")} | {b.name for b in gold} | {
        second.embeddings_file(b.queries) for b in gold}
    assert {path.name for path in target.iterdir()} == expected
    served = root / "served"
    for name in expected:
        folder = FIRST if name == second.embeddings_file("P5") else SECOND
        assert (target / name).read_bytes() == (served / folder / name).read_bytes()


def _nearest_distances(queries: np.ndarray, objects: np.ndarray, k: int) -> np.ndarray:
    """The k+1 nearest distances of each query, float64 brute force rounded to float32, ascending."""
    q = queries.astype(np.float64)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    x = objects.astype(np.float64)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return np.sort((1 - q @ x.T).astype(np.float32), axis=1)[:, :k + 1]


def test_the_selected_query_set_follows_its_rule(editions):
    root, _, releases = editions
    served = root / "served"
    second = read_release(releases / f"{SECOND}.yml")
    spec = second.query_set("hard")
    selection = spec.selection
    part = np.load(npy_path(root / "parts", spec.part))
    with h5py.File(served / SECOND / second.embeddings_file("hard"), "r") as file:
        chosen = file["emb"][:]
    with h5py.File(served / FIRST / second.embeddings_file(selection.against), "r") as file:
        objects = file["emb"][:]
    candidates = candidate_rows(len(part), selection.candidates, spec.seed)
    assert np.all(np.diff(candidates) > 0), "the candidates are distinct and ascending"
    rows = [int(np.flatnonzero((part.astype(np.float32) == query).all(axis=1))[0]) for query in chosen]
    assert len(rows) == spec.count and rows == sorted(rows) and set(rows) <= set(candidates.tolist())
    dists = _nearest_distances(part[candidates].astype(np.float32), objects, selection.k)
    passes = (dists[:, selection.k - 1] != dists[:, selection.k]) & (
        dists[:, :selection.k].astype(np.float64).sum(axis=1) > selection.min_sum)
    assert candidates[passes][:spec.count].tolist() == rows, "the first candidates that pass, in order"
    assert not passes.all(), "the rule drops some candidates of this sample, so the test can see it work"


def test_the_selected_queries_depend_on_the_seed_alone(editions, tmp_path):
    root, _, releases = editions
    served = root / "served"
    second = read_release(releases / f"{SECOND}.yml")
    name = second.embeddings_file("hard")
    out = tmp_path / SECOND
    shutil.copytree(served / FIRST, tmp_path / FIRST)
    for seed, same in ((second.query_set("hard").seed, True), (11, False)):
        spec = replace(second.query_set("hard"), seed=seed)
        release = replace(second, query_sets=tuple(spec if q.label == "hard" else q for q in second.query_sets))
        stages.write_queries(stages.Run(release, root / "parts", out), "hard")
        digest = hashlib.md5((out / name).read_bytes()).hexdigest()
        assert (digest == hashlib.md5((served / SECOND / name).read_bytes()).hexdigest()) is same, seed
    assert not (out / stages.SELECTION / "hard.h5").exists()


def test_the_gold_standard_of_the_selected_queries_is_float64_brute_force(editions):
    root, _, releases = editions
    served = root / "served"
    second = read_release(releases / f"{SECOND}.yml")
    with h5py.File(served / SECOND / second.embeddings_file("hard"), "r") as file:
        queries = file["emb"][:].astype(np.float64)
    with h5py.File(served / FIRST / second.embeddings_file("P5"), "r") as file:
        objects = file["emb"][:].astype(np.float64)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    objects /= np.linalg.norm(objects, axis=1, keepdims=True)
    dists = (1 - queries @ objects.T).astype(np.float32)
    kind = second.kind("gold-hard")
    k = kind.layout.cols
    with h5py.File(served / SECOND / second.bundle(kind, "P5").name, "r") as file:
        knns, stored = file["knns"][:], file["dists"][:]
    ids = np.arange(1, len(objects) + 1)
    for row, found, distances in zip(dists, knns, stored):
        order = np.lexsort((ids, row))[:k]
        assert found.tolist() == ids[order].tolist()
        assert distances.tolist() == row[order].tolist()


def _stated(code: str) -> list[str]:
    return [line.split("  # prints: ", 1)[1] for line in code.splitlines() if "  # prints: " in line]


@pytest.mark.parametrize("tool", ["laion2b", "curl"])
def test_the_quick_start_works_as_printed(editions, tmp_path, tool):
    """Every block of the newest page's quick start, pasted into a shell in an empty folder, in
    order: the files arrive, check and load, and Python prints what the page says it prints."""
    root, _, _ = editions
    soup = BeautifulSoup((root / "site" / "site" / "datasets.html").read_text(encoding="utf-8"), "html.parser")
    blocks = quick_start(soup, tool)
    assert len(blocks) == 3, blocks
    folder = tmp_path / "start"
    folder.mkdir()
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
               XDG_CACHE_HOME=str(tmp_path / "cache"))
    for block in blocks:
        run = subprocess.run(["bash", "-e", "-c", block], cwd=folder, capture_output=True, text=True, env=env)
        assert run.returncode == 0, (block, run.stdout, run.stderr)
    assert run.stdout.splitlines() == _stated(blocks[-1]) and len(run.stdout.splitlines()) == 4
    assert len(list(folder.glob("*.h5"))) == 3


def test_each_groups_loading_example_prints_what_the_page_states(editions):
    root, _, releases = editions
    site = root / "site" / "site"
    for page, edition in (("datasets.html", SECOND), (f"{FIRST}/datasets.html", FIRST)):
        release = read_release(releases / f"{edition}.yml")
        examples = loading_examples(BeautifulSoup((site / page).read_text(encoding="utf-8"), "html.parser"))
        groups = {b.kind.id for b in release.published() if b.layout.datasets}
        assert len(examples) == len(groups), (page, sorted(examples))
        for name, (python, julia) in examples.items():
            bundle = next(b for b in release.published() if b.name == name)
            run = subprocess.run([sys.executable, "-c", python], cwd=root / "served" / bundle.edition,
                                 capture_output=True, text=True)
            assert run.returncode == 0, (name, run.stderr)
            assert run.stdout.splitlines() == _stated(python), name
            # Julia states the same datasets with the shape reversed.
            assert [line.split(" ")[0] for line in _stated(julia)] == [line.split(" ")[0] for line in _stated(python)]


def test_totals_are_the_exact_bytes_rounded_once_and_the_index_states_them(editions):
    root, _, releases = editions
    site = root / "site" / "site"
    schema = json.loads((ROOT / "docs" / "datasets.schema.json").read_text())
    for page, edition in (("datasets.html", SECOND), (f"{FIRST}/datasets.html", FIRST)):
        release = read_release(releases / f"{edition}.yml")
        index = json.loads((site / edition / "datasets.json").read_text())
        jsonschema.validate(index, schema)
        assert index["size_units"] == SIZE_UNITS
        exact = {b["name"]: b["bytes"] for b in index["bundles"]}
        assert None not in exact.values() and len(exact) == len(release.published())
        soup = BeautifulSoup((site / page).read_text(encoding="utf-8"), "html.parser")
        text = soup.select_one("article").get_text(" ")
        assert SIZE_UNITS in " ".join(text.split())
        for kind in release.kinds:
            names = [b.name for b in release.published() if b.kind.id == kind.id]
            if names:
                total = human_total(sum(exact[name] for name in names))
                files = f"{len(names)} file{'s' if len(names) != 1 else ''}, {total} in total"
                assert files in " ".join(text.split()), (page, kind.id, files)


# --- every row of both pages says what h5py, stat and md5sum say of its file --------------------
# (in this file, with the tests above, so that a parallel run builds the sample site once)

@pytest.fixture(scope="module")
def sample_site(tiny_sample_site):
    root, url, releases = tiny_sample_site
    return root, url, releases, root / "served", root / "site" / "site"


def rows(page: Path) -> dict[str, list]:
    soup = BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")
    table_rows = [row for table in soup.select("div.datasets table") for row in table.select("tbody tr")]
    return {row.select_one("td code").get_text(): row.find_all("td") for row in table_rows}


def h5py_layout(path: Path) -> str:
    """What the page should say of a file: each dataset's key, dtype and shape as h5py reads them."""
    if path.suffix == ".tsv":
        return "TSV: " + ", ".join(path.read_text(encoding="utf-8").split("\n", 1)[0].split("\t"))
    with h5py.File(path, "r") as file:
        return " ".join(f"{key} {item.dtype} {' × '.join(f'{n:,}' for n in item.shape)}"
                        for key, item in file.items())


@pytest.mark.parametrize("edition, page", [(FIRST, f"{FIRST}/datasets.html"), (SECOND, "datasets.html")])
def test_every_row_shows_what_h5py_stat_and_md5sum_say_of_the_produced_file(sample_site, edition, page):
    _, url, releases, served, site = sample_site
    release = read_release(releases / f"{edition}.yml")
    cells = rows(site / page)
    assert list(cells) == [bundle.name for bundle in release.published()]
    for bundle in release.published():
        file, _, size, md5, layout = cells[bundle.name]
        path = served / bundle.edition / bundle.name
        assert file.select_one("a")["href"] == f"{url}/{bundle.edition}/{bundle.name}"
        assert f"{os.stat(path).st_size:,} bytes" in size.get_text(), bundle.name
        md5sum = subprocess.run(["md5sum", bundle.name], cwd=path.parent, capture_output=True, text=True,
                                check=True).stdout.split()[0]
        assert md5.get_text(strip=True) == md5sum
        assert layout.get_text(" ", strip=True) == h5py_layout(path), bundle.name
    assert not any(td.select(".missing-value") for tds in cells.values() for td in tds)


def test_one_changed_byte_fails_strict_mode_and_is_marked_without_it(sample_site, tmp_path):
    _, _, releases, served, _ = sample_site
    release = read_release(releases / f"{FIRST}.yml")
    changed = tmp_path / "artifacts" / FIRST
    changed.mkdir(parents=True)
    out = served / FIRST
    for name in ("dataset-files-md5.txt", "dataset-files-size.txt", "dataset-files-bytes.txt",
                 "dataset-files-urls.txt"):
        shutil.copy(out / name, changed)
    name = next(b.name for b in release.published() if b.group == "gold")
    content = bytearray((out / name).read_bytes())
    content[-1] ^= 0x01
    (changed / name).write_bytes(content)
    docs = tmp_path / "docs"
    arguments = ["render", "--releases", str(releases), "--editions", FIRST, "--data", str(changed.parent),
                 "--artifacts", str(changed.parent), "--docs", str(docs)]

    strict = run_generator(*arguments)
    assert strict.returncode == 1 and "Traceback" not in strict.stderr
    assert f"'{name}': {changed / name} has md5 " in strict.stderr
    assert "1 problem(s) in the inputs; nothing was written" in strict.stderr
    assert not docs.exists()

    lenient = run_generator(*arguments, "--strict", "0")
    assert lenient.returncode == 0, lenient.stderr
    page = (docs / "datasets.md").read_text(encoding="utf-8")
    row = next(line for line in page.split("<tr>") if f"<code>{name}</code>" in line)
    md5_cell = row.split("<td>")[4]
    assert '<span class="missing-value">⚠ the file built here has md5 ' in md5_cell
    assert page.count("missing-value") == 1


# --- the loading snippets, run against the first edition's files ---------------------------------

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


def test_a_later_edition_without_its_earlier_one_built_says_which_to_build(editions, tmp_path):
    root, _, releases = editions
    out_root = tmp_path / "artifacts"
    (out_root / SECOND).mkdir(parents=True)
    second = read_release(releases / f"{SECOND}.yml")
    external = next(b for b in second.bundles() if b.source == "external")
    shutil.copy(root / "served" / SECOND / external.name, out_root / SECOND / external.name)
    run = subprocess.run(["make", "--no-print-directory", "-C", str(ROOT), "artifacts", f"EDITION={SECOND}",
                          f"RELEASES={releases}", f"PARTS={root / 'parts'}", f"ARTIFACTS_ROOT={out_root}"],
                         capture_output=True, text=True)
    assert run.returncode != 0
    assert f"belongs to edition {FIRST}: build it first (make artifacts EDITION={FIRST})" in run.stderr, run.stderr
    assert sorted(path.name for path in (out_root / SECOND).iterdir() if not path.name.startswith(".")) == \
        [external.name], "nothing of the second edition was written"
