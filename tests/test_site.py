"""The datasets page: rows, descriptions, warnings, commands, strict mode and escaping
(docs/design/index.md#the-datasets-page)."""
from __future__ import annotations

import io
import json
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import h5py
import numpy as np
import pytest
from bs4 import BeautifulSoup

from generator.manifests.model import human_total
from generator.manifests.read import read_manifest_set
from generator.release.read import read_release
from generator.site.build import SiteInputs, publishable_releases, render_site
from generator.site.make_reference import make_targets, reference_page
from tests.conftest import NEWEST, OLDER, REFERENCE, ROOT, build_site, bundle_name, edition_manifests, run_generator
from tests.page_blocks import command_blocks

MD5_PATH, SIZE_PATH, URLS_PATH = "dataset-files-md5.txt", "dataset-files-size.txt", "dataset-files-urls.txt"
RELEASES = ROOT / "data" / "releases"
# Each committed edition's page in the built site: the newest is the default page.
PAGES = {NEWEST: "datasets", OLDER: f"{OLDER}/datasets"}
# The manifests as published, by edition (tests/reference/README.md).
PUBLISHED = {OLDER: ("sisap2023-raw", "laion2b-2023"), NEWEST: ("sisap2024-raw",)}


def download_rows(soup):
    return [row for table in soup.select("div.datasets table") for row in table.select("tbody tr")]


def rows_by_name(soup) -> dict:
    return {row.select_one("td code").get_text(): row.find_all("td") for row in download_rows(soup)}


def published_groups(edition: str = OLDER) -> dict[str, list[str]]:
    """The names of the published bundles of a committed edition, by group, in page order."""
    groups: dict[str, list[str]] = {}
    for bundle in read_release(RELEASES / f"{edition}.yml").published():
        groups.setdefault(bundle.group, []).append(bundle.name)
    return groups


def line_of(path: Path, ending: str) -> int:
    """The number of the first line of `path` ending with `ending`."""
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if line.endswith(ending))


@pytest.mark.parametrize("edition, files", [(OLDER, 43), (NEWEST, 11)])
def test_page_has_one_download_row_per_published_bundle(committed_site, edition, files):
    soup = committed_site.page(PAGES[edition])
    manifests = read_manifest_set(RELEASES / edition)
    names = [name for names in published_groups(edition).values() for name in names]
    rows = download_rows(soup)
    assert len(rows) == len(names) == files
    for row, name in zip(rows, names):
        link = row.select_one("td a")
        assert link.get_text(strip=True) == name
        assert link["href"] == manifests.urls.get(name).value
        cells = row.find_all("td")
        assert cells[2].get_text(strip=True) == manifests.sizes.get(name).value.text
        assert cells[3].get_text(strip=True) == manifests.md5s.get(name).value
        assert "md5" in cells[3].code["class"]


def test_layout_column_shows_key_dtype_and_shape(committed_site):
    rows = {r.select_one("td a").get_text(strip=True): r.find_all("td")[4].get_text(" ", strip=True)
            for r in download_rows(committed_site.page(PAGES[OLDER]))}
    assert rows["laion2B-en-clip768v2-n=10M.h5"] == "emb float16 10,120,191 × 768"
    assert rows["public-queries-10k-hammingv2.h5"] == "hamming uint64 10,000 × 16"
    assert rows["laion2B-en-public-gold-standard-v2-30M.h5"] == "knns int32 10,000 × 100 dists float32 10,000 × 100"
    assert rows["meta-10M.tsv"] == "TSV: caption, NSFW, LICENSE, url"


def test_descriptions_warnings_and_citation(committed_site):
    soup = committed_site.page(PAGES[OLDER])
    row = next(r for r in download_rows(soup) if r.select_one("a").get_text() == "laion2B-en-clip768v2-n=100M.h5")
    description = row.find_all("td")[1].get_text()
    assert "the 100M subset" in description and "100K" not in description
    warnings = [a for a in soup.select("div.admonition.warning")]
    caveat = next(a for a in warnings if "100K and 300K" in a.select_one(".admonition-title").get_text())
    assert "not prefixes of the 10M, 30M and 100M subsets" in caveat.get_text()
    notes = [a.get_text(" ", strip=True) for a in soup.select("div.admonition.note")]
    assert any("LAION-5B: An open large-scale dataset" in n and "arXiv:2210.08402" in n for n in notes)
    infos = [a.select_one(".admonition-title").get_text(strip=True) for a in soup.select("div.admonition.info")]
    assert "Where the projection models were trained" in infos


@pytest.mark.parametrize("edition", [OLDER, NEWEST])
def test_sections_are_in_the_order_of_the_spec(committed_site, edition):
    """The recall table shows only on the page of an edition that has one (2023)."""
    headings = [h.get_text(strip=True).rstrip("¶") for h in committed_site.page(PAGES[edition]).select("article h2")]
    assert (RELEASES / edition / "recall-projections.csv").is_file() == (edition == OLDER)
    recall = ["Recall of the projections"] if edition == OLDER else []
    assert headings == ["Quick start", "About LAION-5B and LAION2B-en", "How the subsets are cut", "Downloads",
                        "Download commands", "Warnings", *recall, "Rebuilding everything from the original parts"]


@pytest.mark.parametrize("edition", [OLDER, NEWEST])
def test_download_blocks_per_subset_and_group_come_from_the_release_and_manifests(committed_site, edition):
    release = read_release(RELEASES / f"{edition}.yml")
    manifests = read_manifest_set(RELEASES / edition)
    blocks = command_blocks(committed_site.page(PAGES[edition]))
    published = {bundle.name for bundle in release.published()}
    # The representations: the kinds of bundle published for a query set too.
    representations = list(dict.fromkeys(b.kind.id for b in release.published() if release.is_query_label(b.subset)))
    golds = [kind for kind in release.kinds if kind.of == "gold"]
    expected = {}
    for label in release.labels + release.query_labels:
        # A subset's block: its file, the queries of its published gold standards, those gold standards.
        mine = [gold for gold in golds if bundle_name(release, gold.id, label) in published] \
            if not release.is_query_label(label) else []
        for kind in representations:
            if bundle_name(release, kind, label) not in published:
                continue
            extra = [] if release.is_query_label(label) else (
                [bundle_name(release, kind, queries) for queries in dict.fromkeys(gold.queries for gold in mine)]
                + [bundle_name(release, gold.id, label) for gold in mine])
            expected[("By subset", label, kind)] = [name for name in dict.fromkeys([bundle_name(release, kind, label)]
                                                                                   + extra) if name in published]
    for group, names in published_groups(edition).items():
        expected[("By group", group)] = names
    found = {}
    for block in blocks:
        found.setdefault((block.section, *block.tabs[:-1]), []).append(block)
    assert list(found) == list(expected)
    for key, names in expected.items():
        assert [b.tool for b in found[key]] == ["curl", "wget", "aria2c", "laion2b"], key
        for block in found[key]:
            assert block.names() == names, (key, block.tool)
            for name in names:
                url, md5 = manifests.urls.get(name).value, manifests.md5s.get(name).value
                assert f"{md5}  {name}" in block.md5_lines()
                # Shell words are quoted where they need it (the ingeotec host's URLs hold a `~`).
                assert {"curl": f"curl -fL --retry 5 -C - -o {name} \\\n  {shlex.quote(url)}\n",
                        "wget": f"wget -c -O {name} \\\n  {shlex.quote(url)}\n",
                        "aria2c": f"{url}\n  out={name}\n  checksum=md5={md5}\n",
                        "laion2b": f"  {name}"}[block.tool] in block.text, (key, block.tool)
            assert block.text.rstrip("\n").endswith("END_OF_MD5")

    def summary(title: str, names: list[str]) -> str:
        total = human_total(sum(manifests.size_of(name).value.bytes for name in names))
        return f"{title}: {len(names)} files, ≈ {total}:"

    tenm = expected[("By subset", "10M", "clip768")]
    assert found[("By subset", "10M", "clip768")][0].summary.startswith(summary("768d CLIP embeddings for 10M", tenm))
    group = expected[("By group", "clip768")]
    assert found[("By group", "clip768")][0].summary.startswith(summary("768d CLIP embeddings ", group))
    # The blocks read the index of their own edition.
    laion2b = found[("By group", "gold")][3].text
    assert laion2b.startswith(f"laion2b download --dir . \\\n  --index http://127.0.0.1:8000/{edition}/datasets.json \\\n")


def test_commands_follow_a_changed_md5_and_the_site_url(data_copy, tmp_path):
    md5 = edition_manifests(data_copy, OLDER) / MD5_PATH
    md5.write_text(md5.read_text().replace("257b9eb3f7f25776e0d33b22451b7b32", "0" * 32))
    rebuilt = build_site(tmp_path / "changed", data_copy, extra=["--site-url", "https://sisap.example.org/laion/"])
    assert rebuilt.render.returncode == 0, rebuilt.render.stderr
    blocks = command_blocks(rebuilt.page(PAGES[OLDER]))
    queries = [b for b in blocks if b.tabs[:2] == ("public", "clip768")]
    assert len(queries) == 4
    assert all(b.md5_lines() == ["00000000000000000000000000000000  public-queries-10k-clip768v2.h5"] for b in queries)
    assert f"--index https://sisap.example.org/laion/{OLDER}/datasets.json " in queries[3].text
    assert "00000000000000000000000000000000  public-queries-10k-clip768v2.h5\n" in (
        rebuilt.site / OLDER / MD5_PATH).read_text()
    newest = [b for b in command_blocks(rebuilt.page(PAGES[NEWEST])) if b.tool == "laion2b"]
    assert newest and all(f"--index https://sisap.example.org/laion/{NEWEST}/datasets.json " in b.text for b in newest)


def test_every_kind_of_problem_fails_strict_mode_and_is_marked_with_strict_0(data_copy, tmp_path):
    """A missing entry, a malformed line, a non-http URL, a name with two values and a produced file
    that disagrees, all at once in an edition's manifests: strict mode names each and writes nothing;
    STRICT=0 builds the site with each cell marked."""
    folder = edition_manifests(data_copy, OLDER)
    md5 = folder / MD5_PATH
    md5.write_text("".join(l for l in md5.read_text().splitlines(keepends=True) if "meta-30M.tsv" not in l)
                   + "ffffffffffffffffffffffffffffffff  laion2B-en-public-gold-standard-v2-10M.h5\n")
    twice = len(md5.read_text().splitlines())
    sizes = folder / SIZE_PATH
    sizes.write_text(sizes.read_text().replace(" 18G meta-100M.tsv", " 18Q meta-100M.tsv"))
    sizes_line = line_of(sizes, " meta-100M.tsv")
    urls = folder / URLS_PATH
    urls.write_text(urls.read_text().replace(
        "https://sisap-23-challenge.s3.amazonaws.com/SISAP23-Challenge/laion2B-en-hammingv2-n=100K.h5",
        "file:///etc/laion2B-en-hammingv2-n=100K.h5"))
    urls_line = line_of(urls, "file:///etc/laion2B-en-hammingv2-n=100K.h5")
    artifacts = tmp_path / "artifacts"
    for edition in (OLDER, NEWEST):  # --artifacts holds a folder per edition
        (artifacts / edition).mkdir(parents=True)
    produced = artifacts / OLDER / "public-queries-10k-pca32v2.h5"
    with h5py.File(produced, "w") as h5:
        h5.create_dataset("emb", data=np.zeros((10_000, 32), dtype=np.float32), track_times=False)
    failed = build_site(tmp_path / "strict", data_copy, extra=["--artifacts", str(artifacts)])
    assert failed.render.returncode == 1
    release = data_copy / "releases" / f"{OLDER}.yml"
    release_line = line_of(release, "  - id: meta")
    for problem in (f"{release}:{release_line}: 'meta-30M.tsv' is not in {md5}",
                    f"{sizes}:{sizes_line}: '18Q' is not a size", f"{urls}:{urls_line}: "
                    f"'file:///etc/laion2B-en-hammingv2-n=100K.h5' is not an http(s) URL",
                    f"{md5}:{twice}: 'laion2B-en-public-gold-standard-v2-10M.h5' is listed twice",
                    f"'public-queries-10k-pca32v2.h5': {produced} holds datasets emb"):
        assert problem in failed.render.stderr
    assert "error: 7 problem(s) in the inputs; nothing was written" in failed.render.stderr
    assert "Traceback" not in failed.render.stderr
    docs = tmp_path / "strict" / "docs"
    assert not any((docs / name).exists() for name in ("datasets.md", "editions.md", OLDER, NEWEST))

    lenient = build_site(tmp_path / "lenient", data_copy, strict=0, extra=["--artifacts", str(artifacts)])
    assert lenient.render.returncode == 0 and lenient.build.returncode == 0, lenient.build and lenient.build.stderr
    assert "'meta-30M.tsv' is not in" in lenient.render.stderr
    soup = lenient.page(PAGES[OLDER])
    rows = rows_by_name(soup)
    marks = {(name, column): [m.get_text() for m in cells[column].select(".missing-value")]
             for name, cells in rows.items() for column in range(5)}
    assert marks[("meta-30M.tsv", 3)] == [f"⚠ not in {md5}"]
    assert marks[("meta-100M.tsv", 2)][0].startswith(f"⚠ {sizes}:{sizes_line}: '18Q' is not a size")
    assert marks[("laion2B-en-hammingv2-n=100K.h5", 0)][0].startswith(f"⚠ {urls}:{urls_line}: 'file:///etc/")
    assert rows["laion2B-en-hammingv2-n=100K.h5"][0].select_one("a") is None
    assert marks[("laion2B-en-public-gold-standard-v2-10M.h5", 3)] == [
        f"⚠ listed twice with different values in {md5}"]
    assert marks[("public-queries-10k-pca32v2.h5", 4)][0].startswith("⚠ the file built here holds datasets emb")
    assert sum(len(m) for m in marks.values()) == 7
    assert soup.select_one("div.admonition.danger")  # the page says it was built from faulty inputs
    group_warning = soup.select_one("#table-meta").find_previous("div", class_="warning")
    assert "meta-30M.tsv" in group_warning.get_text()
    # The newest edition's page, whose inputs are sound, is built without a mark.
    newest = lenient.page(PAGES[NEWEST])
    assert not newest.select(".missing-value") and not newest.select_one("div.admonition.danger")


def test_two_different_md5s_are_reported_with_both_lines(data_copy, tmp_path):
    md5 = edition_manifests(data_copy, OLDER) / MD5_PATH
    lines = md5.read_text().splitlines(keepends=True)
    lines.append("ffffffffffffffffffffffffffffffff  meta-10M.tsv\n")
    md5.write_text("".join(lines))
    failed = build_site(tmp_path / "twice", data_copy)
    assert failed.render.returncode == 1
    first = next(n for n, l in enumerate(lines, 1) if l.endswith(" meta-10M.tsv\n"))
    assert (f"{md5}:{len(lines)}: 'meta-10M.tsv' is listed twice with different md5 values: "
            f"'a9abbe13fb19207fb240f74fc03e2476' at line {first} and "
            f"'ffffffffffffffffffffffffffffffff' at line {len(lines)}") in failed.render.stderr


def test_make_site_strict_and_lenient_through_make(tmp_path, data_copy):
    """`make site DATA=<folder>` and `STRICT=0`, in a copy of the project (as a fresh clone has it)."""
    project = tmp_path / "project"
    tracked = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout.split()
    for name in tracked:
        if (ROOT / name).is_file():
            (project / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, project / name)
    (project / ".venv").symlink_to(ROOT / ".venv")
    make = ["make", "--no-print-directory", "-C", str(project), "-o", ".venv/.installed"]

    ok = subprocess.run(make + ["site"], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    for edition, page in PAGES.items():
        names = [name for names in published_groups(edition).values() for name in names]
        assert len(download_rows(__import__("bs4").BeautifulSoup(
            (project / "site" / f"{page}.html").read_text(), "html.parser"))) == len(names), edition

    md5 = edition_manifests(data_copy, OLDER) / MD5_PATH
    md5.write_text(md5.read_text().replace("meta-100M.tsv", "meta-100M-old.tsv"))
    data = data_copy / "releases"
    strict = subprocess.run(make + ["site", f"DATA={data}"], capture_output=True, text=True)
    assert strict.returncode != 0
    assert f"'meta-100M.tsv' is not in {md5}" in strict.stderr
    lenient = subprocess.run(make + ["site", f"DATA={data}", "STRICT=0"], capture_output=True, text=True)
    assert lenient.returncode == 0, lenient.stderr
    assert f"⚠ not in {md5}" in (project / "site" / f"{PAGES[OLDER]}.html").read_text()


HOSTILE_BUNDLE = """\
  - id: hostile
    of: pca
    file: evil name {subset}.h5
    datasets: [{key: pca8, dtype: float32, cols: 8}]
    publish: [10M]
"""
HOSTILE_WORDING = """\
  hostile:
    title: <b>Hostile</b> | group
    intro: An intro with <script>alert(1)</script> and a | b and *stars* and [a link](http://h.example/x).
    database: <script>alert(1)</script> a | b <img src=x onerror=alert(3)>
"""


def hostile_inputs(data: Path, url: str) -> None:
    """A bundle kind with hostile wording and names added to the 2023 edition and its manifests."""
    release_file = data / "releases" / f"{OLDER}.yml"
    release = release_file.read_text()
    assert "\n# How the pipeline computes" in release
    release_file.write_text(release.replace("\n# How the pipeline computes",
                                            HOSTILE_BUNDLE + "\n# How the pipeline computes"))
    wording = (data / "page.yml").read_text()
    assert "\n# Admonitions" in wording
    (data / "page.yml").write_text(wording.replace("\n# Admonitions", HOSTILE_WORDING + "\n# Admonitions"))
    folder = edition_manifests(data, OLDER)
    with open(folder / URLS_PATH, "a") as urls:
        urls.write(url + "\n")
    with open(folder / SIZE_PATH, "a") as sizes:
        sizes.write("1.2M evil name 10M.h5\n")
    with open(folder / MD5_PATH, "a") as md5:
        md5.write("0123456789abcdef0123456789abcdef  evil name 10M.h5\n")


def test_hostile_text_is_escaped_and_tables_keep_their_columns(data_copy, tmp_path, committed_site):
    hostile_inputs(data_copy, "https://h.example/files/evil%20name%2010M.h5?a=1&b=\"2\"")
    built = build_site(tmp_path / "hostile", data_copy)
    assert built.render.returncode == 0, built.render.stderr
    assert built.build.returncode == 0, built.build.stderr
    for page in built.html_files():
        html = page.read_text(encoding="utf-8").lower()
        plain = (committed_site.site / page.relative_to(built.site)).read_text(encoding="utf-8").lower()
        # The theme emits the same scripts on both builds; data must add none.
        assert html.count("<script") == plain.count("<script"), page
        assert "javascript:" not in html and "<img src=x" not in html and "<b>hostile" not in html, page
    soup = built.page(PAGES[OLDER])
    for table in soup.select("div.datasets table"):
        assert all(len(row.find_all("td")) == 5 for row in table.select("tbody tr"))
    row = soup.select("#table-hostile tbody tr")[0]
    assert row.find_all("td")[1].get_text() == "<script>alert(1)</script> a | b <img src=x onerror=alert(3)>"
    assert row.select_one("a")["href"] == 'https://h.example/files/evil%20name%2010M.h5?a=1&b="2"'
    intro = soup.select_one("#table-hostile").find_previous("h3").find_next("p").get_text(" ", strip=True)
    assert "<script>alert(1)</script> and a | b and *stars* and [a link](http://h.example/x)." in intro
    heading = soup.select_one("#table-hostile").find_previous("h3").get_text().rstrip("¶")
    assert heading == "<b>Hostile</b> | group"
    hostile = [b for b in command_blocks(soup) if b.tabs[0] == "hostile"]
    assert "curl -fL --retry 5 -C - -o 'evil name 10M.h5'" in hostile[0].text
    assert "  'evil name 10M.h5'\n" in hostile[3].text and "  out=evil name 10M.h5\n" in hostile[2].text


def test_render_help_lists_its_options():
    result = run_generator("render", "--help")
    assert result.returncode == 0
    for option in ("--releases", "--editions", "--data", "--wording", "--artifacts", "--strict", "--docs",
                   "--site-url"):
        assert option in result.stdout


@pytest.mark.parametrize("option, target, message", [
    ("--wording", "missing.yml", "missing.yml: cannot be read (No such file or directory)"),
    ("--data", "nowhere", "nowhere: the manifests folder does not exist"),
    ("--editions", "2022", "2022.yml: there is no release file for this edition"),
    ("--releases", "nowhere", "nowhere: the folder of release definitions does not exist"),
])
def test_missing_inputs_are_one_clear_message(tmp_path, option, target, message):
    docs = tmp_path / "docs"
    value = target if option == "--editions" else str(tmp_path / target)
    result = run_generator("render", option, value, "--docs", str(docs))
    assert result.returncode == 1
    assert result.stderr.startswith("error: ") and message in result.stderr
    assert "Traceback" not in result.stderr and not docs.exists()


def test_an_edition_without_its_manifests_folder_is_one_clear_error(tmp_path, data_copy):
    shutil.rmtree(edition_manifests(data_copy, OLDER))
    docs = tmp_path / "docs"
    result = run_generator("render", "--releases", str(data_copy / "releases"), "--data", str(data_copy / "releases"),
                           "--docs", str(docs))
    assert result.returncode == 1
    assert f"error: {edition_manifests(data_copy, OLDER)}: edition {OLDER} has no manifests folder" in result.stderr
    assert "Traceback" not in result.stderr and not docs.exists()


def test_a_bad_recall_line_names_its_line(tmp_path, data_copy):
    recall = edition_manifests(data_copy, OLDER) / "recall-projections.csv"
    recall.write_text(recall.read_text() + "pca32,1G,bruteforce,0.0,1.0,,1.5\n")
    lines = len(recall.read_text().splitlines())
    docs = tmp_path / "docs"
    result = run_generator("render", "--releases", str(data_copy / "releases"), "--data", str(data_copy / "releases"),
                           "--docs", str(docs))
    assert result.returncode == 1
    assert f"{recall}:{lines}: recall 1.5 is not between 0 and 1" in result.stderr
    assert not docs.exists()


@pytest.mark.parametrize("edition", [OLDER, NEWEST])
def test_every_make_target_the_page_names_exists(committed_site, edition):
    """The rebuild and download sections may only name targets that the Makefile has."""
    named = {target for code in committed_site.page(PAGES[edition]).select("article code")
             for target in re.findall(r"\bmake ([a-z][a-z-]+)", code.get_text(" "))}
    assert {"download", "verify"} <= named
    if edition == OLDER:
        assert {"sample", "artifacts", "gold", "manifests"} <= named
    help_text = subprocess.run(["make", "--no-print-directory", "-C", str(ROOT), "help"],
                               capture_output=True, text=True, check=True).stdout
    listed = set(re.findall(r"^\s+make ([a-z-]+)", help_text, flags=re.MULTILINE))
    assert named <= listed, named - listed


# --- The editions: each page against the manifests as published, reuse between editions ---------


def published_values(edition: str) -> tuple[dict, dict, dict]:
    """name -> the set of md5s, URLs and sizes the published manifests of an edition give it (the
    raw size manifests name some files by their path on the server)."""
    md5s, urls, sizes = {}, {}, {}
    for folder in PUBLISHED[edition]:
        for line in (REFERENCE / folder / MD5_PATH).read_text().splitlines():
            if line.strip():
                digest, name = line.split()
                md5s.setdefault(name, set()).add(digest)
        for line in (REFERENCE / folder / URLS_PATH).read_text().splitlines():
            if line.strip():
                urls.setdefault(line.strip().rsplit("/", 1)[1], set()).add(line.strip())
        for line in (REFERENCE / folder / SIZE_PATH).read_text().splitlines():
            if line.strip():
                size, path = line.split()
                sizes.setdefault(path.rsplit("/", 1)[-1], set()).add(size)
    return md5s, urls, sizes


@pytest.mark.parametrize("edition, files", [(OLDER, 43), (NEWEST, 11)])
def test_every_row_has_the_url_md5_and_size_of_the_published_manifests(committed_site, edition, files):
    soup = committed_site.page(PAGES[edition])
    md5s, urls, sizes = published_values(edition)
    rows = rows_by_name(soup)
    assert len(download_rows(soup)) == len(rows) == files
    sized = 0
    for name, cells in rows.items():
        assert {cells[0].select_one("a")["href"]} == urls[name], name
        assert {cells[3].get_text(strip=True)} == md5s[name], name
        if name in sizes:
            assert cells[2].get_text(strip=True) in sizes[name], name
            sized += 1
    assert sized == files  # every published file has a published size
    if edition == OLDER:
        private = soup.select("#table-gold-private tbody tr")
        assert len(private) == 3
        for row in private:
            assert row.find_all("td")[4].get_text(" ", strip=True) == (
                "knns int32 10,000 × 10 dists float32 10,000 × 10")


def test_the_newest_edition_marks_what_it_reuses_and_what_is_external(committed_site):
    older, newest = (read_manifest_set(RELEASES / edition) for edition in (OLDER, NEWEST))
    release = read_release(RELEASES / f"{NEWEST}.yml")
    rows = rows_by_name(committed_site.page(PAGES[NEWEST]))
    older_rows = rows_by_name(committed_site.page(PAGES[OLDER]))
    for label in ("300K", "10M", "100M"):
        name = f"laion2B-en-clip768v2-n={label}.h5"
        cells = rows[name]
        href = older_rows[name][0].select_one("a")["href"]
        assert cells[0].select_one("a")["href"] == older.urls.get(name).value == href
        assert cells[3].get_text(strip=True) == older.md5s.get(name).value == older_rows[name][3].get_text(strip=True)
        assert "reused from edition 2023" in cells[1].get_text(" ", strip=True), name
    queries = rows["public-queries-2024-laion2B-en-clip768v2-n=10k.h5"]
    assert queries[3].get_text(strip=True) == older.md5s.get("private-queries-10k-clip768v2.h5").value == (
        "f8f3e61bd22d7d64234a0f587ead9fcf")
    assert "reused from edition 2023" in queries[1].get_text(" ", strip=True)
    sources = {bundle.name: bundle.source for bundle in release.published()}
    assert set(sources.values()) == {"built", "reused", "external"}
    for name, source in sources.items():
        description = rows[name][1].get_text(" ", strip=True)
        assert ("external" in description) == (source == "external"), name
        assert ("reused from edition 2023" in description) == (source == "reused"), name
    assert {name for name, source in sources.items() if source == "external"} == {
        "laion2B-en-clip768v2-n=1M.h5", "private-queries-2024-laion2B-en-clip768v2-n=10k-epsilon=0.2.h5"}
    # The index of the edition says the same, for tools.
    index = json.loads((committed_site.site / NEWEST / "datasets.json").read_text())
    assert {entry["name"]: entry.get("origin") for entry in index["bundles"]} == sources
    for entry in index["bundles"]:
        assert entry["md5"] == newest.md5s.get(entry["name"]).value


def test_an_external_subset_is_described_in_plain_words(committed_site):
    description = rows_by_name(committed_site.page(PAGES[NEWEST]))["laion2B-en-clip768v2-n=1M.h5"][1].get_text()
    assert "(, " not in description and "objectsmade" not in description


def render_markdown(data: Path, docs: Path, strict: bool = True) -> str:
    """The 2023 page's Markdown rendered in this process from a data folder (no recall plot)."""
    (edition_manifests(data, OLDER) / "recall-projections.csv").unlink(missing_ok=True)
    releases = data / "releases"
    render_site(SiteInputs(releases=publishable_releases(releases), wording=data / "page.yml", data=releases,
                           docs=docs, site_url="http://127.0.0.1:8000/", strict=strict), io.StringIO())
    return (docs / f"{PAGES[OLDER]}.md").read_text(encoding="utf-8")


def test_a_gold_standards_k_is_read_from_its_definition(data_copy, tmp_path):
    release_file = data_copy / "releases" / f"{OLDER}.yml"
    text = release_file.read_text()
    ten = "datasets: [{key: knns, dtype: int32, cols: 10}, {key: dists, dtype: float32, cols: 10}]"
    assert text.count(ten) == 1
    release_file.write_text(text.replace(ten, ten.replace("cols: 10}", "cols: 20}")))
    assert read_release(release_file).kind("gold-private").layout.cols == 20
    markdown = render_markdown(data_copy, tmp_path / "docs")
    assert "### Gold standards of the private queries, 20 neighbours\n" in markdown
    assert "private queries, 10 neighbours" not in markdown
    soup = BeautifulSoup(markdown, "html.parser")
    rows = soup.select("#table-gold-private tbody tr")
    assert len(rows) == 3
    for row in rows:
        cells = row.find_all("td")
        assert cells[1].get_text().startswith("The 20 nearest neighbours of each of the 10,000 private queries in ")
        assert cells[4].get_text(" ", strip=True) == "knns int32 10,000 × 20 dists float32 10,000 × 20"
    # The other gold standards keep theirs.
    assert "### Gold standards, 100 neighbours\n" in markdown


def test_a_reused_file_with_another_md5_than_its_edition_gives_it_fails_strict_mode(data_copy, tmp_path):
    name = "laion2B-en-clip768v2-n=10M.h5"
    older, newest = (edition_manifests(data_copy, edition) / MD5_PATH for edition in (OLDER, NEWEST))
    original = read_manifest_set(edition_manifests(data_copy, OLDER)).md5s.get(name).value
    newest.write_text(newest.read_text().replace(f"{original}  {name}", f"{'0' * 32}  {name}"))
    failed = build_site(tmp_path / "strict", data_copy)
    assert failed.render.returncode == 1
    stderr = failed.render.stderr
    assert (f"{newest}:{line_of(newest, '  ' + name)}: '{name}' is reused from edition {OLDER}, whose {older} "
            f"(line {line_of(older, '  ' + name)}) gives {original}; this manifest gives {'0' * 32}") in stderr
    assert "error: 1 problem(s) in the inputs; nothing was written" in stderr and "Traceback" not in stderr
    docs = tmp_path / "strict" / "docs"
    assert not any((docs / written).exists() for written in ("datasets.md", "editions.md", OLDER, NEWEST))
    assert failed.build is None


def test_the_older_edition_points_to_the_newest_and_the_editions_page_lists_both(committed_site):
    releases = {edition: read_release(RELEASES / f"{edition}.yml") for edition in (OLDER, NEWEST)}
    older = committed_site.page(PAGES[OLDER])
    note = next(a for a in older.select("div.admonition")
                if f"This is the {OLDER} edition" in a.select_one(".admonition-title").get_text())
    link = note.select_one("a")
    assert link.get_text(strip=True) == releases[NEWEST].name
    assert (committed_site.site / OLDER / link["href"]).resolve() == (committed_site.site / "datasets.html").resolve()
    newest = committed_site.page(PAGES[NEWEST])
    assert not any("This is the" in a.get_text() for a in newest.select("div.admonition .admonition-title"))

    editions = committed_site.page("editions")
    rows = [row.find_all("td") for row in editions.select("article table tbody tr")]
    assert [row[0].get_text(strip=True) for row in rows] == [f"{NEWEST} (newest)", OLDER]
    for row, edition in zip(rows, (NEWEST, OLDER)):
        page, index = row[1].select_one("a"), row[2].select_one("a")
        assert page.get_text(strip=True) == releases[edition].name
        assert page["href"] == f"{PAGES[edition]}.html"
        assert index["href"] == f"{edition}/datasets.json"
        assert (committed_site.site / index["href"]).is_file()
