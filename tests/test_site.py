"""The datasets page: rows, descriptions, warnings, commands, strict mode and escaping (SPEC §4)."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import h5py
import numpy as np
import pytest

from generator.manifests.read import read_manifest_set
from generator.release.read import read_release
from tests.conftest import ROOT, build_site, bundle_name, run_generator
from tests.page_blocks import command_blocks

MD5_PATH = "dataset-files-md5.txt"


def download_rows(soup):
    return [row for table in soup.select("div.datasets table") for row in table.select("tbody tr")]


def published_groups() -> dict[str, list[str]]:
    """The names of the published bundles of the committed release, by group, in page order."""
    groups: dict[str, list[str]] = {}
    for bundle in read_release(ROOT / "data" / "release.yml").published():
        groups.setdefault(bundle.group, []).append(bundle.name)
    return groups


def test_page_has_one_download_row_per_published_bundle(committed_site):
    soup = committed_site.page()
    manifests = read_manifest_set(ROOT / "data")
    names = [name for names in published_groups().values() for name in names]
    rows = download_rows(soup)
    assert len(rows) == len(names) == 32
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
            for r in download_rows(committed_site.page())}
    assert rows["laion2B-en-clip768v2-n=10M.h5"] == "emb float16 10,120,191 × 768"
    assert rows["public-queries-10k-hammingv2.h5"] == "hamming uint64 10,000 × 16"
    assert rows["laion2B-en-public-gold-standard-v2-30M.h5"] == "knns int32 10,000 × 100 dists float32 10,000 × 100"
    assert rows["meta-10M.tsv"] == "TSV: caption, NSFW, LICENSE, url"


def test_descriptions_warnings_and_citation(committed_site):
    soup = committed_site.page()
    row = next(r for r in download_rows(soup) if r.select_one("a").get_text() == "laion2B-en-clip768v2-n=100M.h5")
    description = row.find_all("td")[1].get_text()
    assert "the 100M subset" in description and "100K" not in description
    warnings = [a for a in soup.select("div.admonition.warning")]
    caveat = next(a for a in warnings if "100K and 300K" in a.select_one(".admonition-title").get_text())
    assert "not prefixes of the 10M, 30M and 100M subsets" in caveat.get_text()
    notes = [a.get_text(" ", strip=True) for a in soup.select("div.admonition.note")]
    assert any("LAION-5B: An open large-scale dataset" in n and "arXiv:2210.08402" in n for n in notes)
    assert soup.select("div.admonition.info")  # where the projection models were trained


def test_sections_are_in_the_order_of_the_spec(committed_site):
    headings = [h.get_text(strip=True).rstrip("¶") for h in committed_site.page().select("article h2")]
    assert headings == ["About LAION-5B and LAION2B-en", "How the subsets are cut", "Downloads",
                        "Download commands", "Warnings", "Recall of the projections",
                        "Rebuilding everything from the original parts"]


def test_download_blocks_per_subset_and_group_come_from_the_release_and_manifests(committed_site):
    release = read_release(ROOT / "data" / "release.yml")
    manifests = read_manifest_set(ROOT / "data")
    blocks = command_blocks(committed_site.page())
    queries = release.queries.label
    representations = [kind.id for kind in release.kinds if kind.queries_file and kind.publish]
    expected = {}
    for label in release.labels + [queries]:
        for kind in representations:
            extra = [] if label == queries else [bundle_name(release, kind, queries),
                                                 bundle_name(release, "gold", label)]
            expected[("By subset", label, kind)] = [bundle_name(release, kind, label)] + extra
    for group, names in published_groups().items():
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
                assert {"curl": f"curl -fL --retry 5 -C - -o {name} \\\n  {url}\n",
                        "wget": f"wget -c -O {name} \\\n  {url}\n",
                        "aria2c": f"{url}\n  out={name}\n  checksum=md5={md5}\n",
                        "laion2b": f"  {name}"}[block.tool] in block.text, (key, block.tool)
            assert block.text.rstrip("\n").endswith("END_OF_MD5")
    assert found[("By subset", "10M", "clip768")][0].summary.startswith("768d CLIP embeddings for 10M: 3 files, ≈ 16G:")
    assert found[("By group", "clip768")][0].summary.startswith("768d CLIP embeddings : 6 files, ≈ 207G:")
    laion2b = found[("By group", "gold")][3].text
    assert laion2b.startswith("laion2b download --dir . \\\n  --index http://127.0.0.1:8000/datasets.json \\\n")


def test_commands_follow_a_changed_md5_and_the_site_url(data_copy, tmp_path):
    md5 = data_copy / MD5_PATH
    md5.write_text(md5.read_text().replace("257b9eb3f7f25776e0d33b22451b7b32", "0" * 32))
    rebuilt = build_site(tmp_path / "changed", data_copy, extra=["--site-url", "https://sisap.example.org/laion/"])
    assert rebuilt.render.returncode == 0, rebuilt.render.stderr
    blocks = command_blocks(rebuilt.page())
    queries = [b for b in blocks if b.tabs[:2] == ("queries", "clip768")]
    assert all(b.md5_lines() == ["00000000000000000000000000000000  public-queries-10k-clip768v2.h5"] for b in queries)
    assert "--index https://sisap.example.org/laion/datasets.json " in queries[3].text
    assert "00000000000000000000000000000000  public-queries-10k-clip768v2.h5\n" in (
        rebuilt.site / "dataset-files-md5.txt").read_text()


def test_every_kind_of_problem_fails_strict_mode_and_is_marked_with_strict_0(data_copy, tmp_path):
    """A missing entry, a malformed line, a non-http URL, a name with two values and a produced file
    that disagrees, all at once: strict mode names each and writes nothing; STRICT=0 builds the
    site with each cell marked."""
    md5 = data_copy / MD5_PATH
    md5.write_text("".join(l for l in md5.read_text().splitlines(keepends=True) if "meta-30M.tsv" not in l)
                   + "ffffffffffffffffffffffffffffffff  laion2B-en-public-gold-standard-v2-10M.h5\n")
    sizes = data_copy / "dataset-files-size.txt"
    sizes.write_text(sizes.read_text().replace(" 18G meta-100M.tsv", " 18Q meta-100M.tsv"))
    urls = data_copy / "dataset-files-urls.txt"
    urls.write_text(urls.read_text().replace("https://sisap-23-challenge.s3.amazonaws.com/SISAP23-Challenge/"
                                             "laion2B-en-hammingv2-n=100K.h5", "file:///etc/laion2B-en-hammingv2-n=100K.h5"))
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    with h5py.File(artifacts / "public-queries-10k-pca32v2.h5", "w") as h5:
        h5.create_dataset("emb", data=np.zeros((10_000, 32), dtype=np.float32), track_times=False)
    failed = build_site(tmp_path / "strict", data_copy, extra=["--artifacts", str(artifacts)])
    assert failed.render.returncode == 1
    release_line = next(n for n, l in enumerate((data_copy / "release.yml").read_text().splitlines(), 1)
                        if l == "  - id: meta")
    for problem in (f"{data_copy / 'release.yml'}:{release_line}: 'meta-30M.tsv' is not in {md5}",
                    f"{sizes}:32: '18Q' is not a size", f"{urls}:23: 'file:///etc/laion2B-en-hammingv2-n=100K.h5' is "
                    f"not an http(s) URL", f"{md5}:32: 'laion2B-en-public-gold-standard-v2-10M.h5' is listed twice",
                    f"'public-queries-10k-pca32v2.h5': {artifacts / 'public-queries-10k-pca32v2.h5'} holds datasets emb"):
        assert problem in failed.render.stderr
    assert "error: 7 problem(s) in the inputs; nothing was written" in failed.render.stderr
    assert "Traceback" not in failed.render.stderr
    assert not (tmp_path / "strict" / "docs" / "datasets.md").exists()

    lenient = build_site(tmp_path / "lenient", data_copy, strict=0, extra=["--artifacts", str(artifacts)])
    assert lenient.render.returncode == 0 and lenient.build.returncode == 0, lenient.build and lenient.build.stderr
    assert "'meta-30M.tsv' is not in" in lenient.render.stderr
    soup = lenient.page()
    rows = {r.select_one("code").get_text(): r.find_all("td") for r in download_rows(soup)}
    marks = {(name, column): [m.get_text() for m in cells[column].select(".missing-value")]
             for name, cells in rows.items() for column in range(5)}
    assert marks[("meta-30M.tsv", 3)] == [f"⚠ not in {md5}"]
    assert marks[("meta-100M.tsv", 2)][0].startswith(f"⚠ {sizes}:32: '18Q' is not a size")
    assert marks[("laion2B-en-hammingv2-n=100K.h5", 0)][0].startswith(f"⚠ {urls}:23: 'file:///etc/")
    assert rows["laion2B-en-hammingv2-n=100K.h5"][0].select_one("a") is None
    assert marks[("laion2B-en-public-gold-standard-v2-10M.h5", 3)] == [
        f"⚠ listed twice with different values in {md5}"]
    assert marks[("public-queries-10k-pca32v2.h5", 4)][0].startswith("⚠ the file built here holds datasets emb")
    assert sum(len(m) for m in marks.values()) == 7
    assert soup.select_one("div.admonition.danger")  # the page says it was built from faulty inputs
    group_warning = soup.select_one("#table-meta").find_previous("div", class_="warning")
    assert "meta-30M.tsv" in group_warning.get_text()


def test_two_different_md5s_are_reported_with_both_lines(data_copy, tmp_path):
    md5 = data_copy / MD5_PATH
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
    assert len(download_rows(__import__("bs4").BeautifulSoup(
        (project / "site" / "datasets.html").read_text(), "html.parser"))) == 32

    md5 = data_copy / MD5_PATH
    md5.write_text(md5.read_text().replace("meta-100M.tsv", "meta-100M-old.tsv"))
    strict = subprocess.run(make + ["site", f"DATA={data_copy}"], capture_output=True, text=True)
    assert strict.returncode != 0
    assert f"'meta-100M.tsv' is not in {md5}" in strict.stderr
    lenient = subprocess.run(make + ["site", f"DATA={data_copy}", "STRICT=0"], capture_output=True, text=True)
    assert lenient.returncode == 0, lenient.stderr
    assert f"⚠ not in {md5}" in (project / "site" / "datasets.html").read_text()


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
    release = (data / "release.yml").read_text()
    (data / "release.yml").write_text(release.replace("\n# How the pipeline computes", HOSTILE_BUNDLE + "\n# How the pipeline computes"))
    wording = (data / "page.yml").read_text()
    (data / "page.yml").write_text(wording.replace("\n# Admonitions", HOSTILE_WORDING + "\n# Admonitions"))
    with open(data / "dataset-files-urls.txt", "a") as urls:
        urls.write(url + "\n")
    with open(data / "dataset-files-size.txt", "a") as sizes:
        sizes.write("1.2M evil name 10M.h5\n")
    with open(data / MD5_PATH, "a") as md5:
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
    soup = built.page()
    for table in soup.select("div.datasets table"):
        assert all(len(row.find_all("td")) == 5 for row in table.select("tbody tr"))
    row = soup.select("#table-hostile tbody tr")[0]
    assert row.find_all("td")[1].get_text() == "<script>alert(1)</script> a | b <img src=x onerror=alert(3)>"
    assert row.select_one("a")["href"] == 'https://h.example/files/evil%20name%2010M.h5?a=1&b="2"'
    intro = soup.select_one("#table-hostile").find_previous("p").get_text(" ", strip=True)
    assert "<script>alert(1)</script> and a | b and *stars* and [a link](http://h.example/x)." in intro
    heading = soup.select("article h3")[6].get_text().rstrip("¶")
    assert heading == "<b>Hostile</b> | group"
    hostile = [b for b in command_blocks(soup) if b.tabs[0] == "hostile"]
    assert "curl -fL --retry 5 -C - -o 'evil name 10M.h5'" in hostile[0].text
    assert "  'evil name 10M.h5'\n" in hostile[3].text and "  out=evil name 10M.h5\n" in hostile[2].text


def test_render_help_lists_its_options():
    result = run_generator("render", "--help")
    assert result.returncode == 0
    for option in ("--data", "--release", "--wording", "--recall", "--artifacts", "--strict", "--out", "--plot"):
        assert option in result.stdout


@pytest.mark.parametrize("option, target, message", [
    ("--release", "missing.yml", "missing.yml: cannot be read (No such file or directory)"),
    ("--wording", "missing.yml", "missing.yml: cannot be read (No such file or directory)"),
    ("--recall", "missing.csv", "missing.csv: cannot be read (No such file or directory)"),
    ("--data", "nowhere", "nowhere: the manifests folder does not exist"),
])
def test_missing_inputs_are_one_clear_message(tmp_path, option, target, message):
    out = tmp_path / "datasets.md"
    result = run_generator("render", option, str(tmp_path / target), "--out", str(out),
                           "--plot", str(tmp_path / "plot.svg"))
    assert result.returncode == 1
    assert result.stderr.startswith("error: ") and message in result.stderr
    assert "Traceback" not in result.stderr and not out.exists()


def test_a_bad_recall_line_names_its_line(tmp_path, data_copy):
    recall = data_copy / "recall-projections.csv"
    recall.write_text(recall.read_text() + "pca32,1G,bruteforce,0.0,1.0,,1.5\n")
    result = run_generator("render", "--data", str(data_copy), "--out", str(tmp_path / "p.md"),
                           "--plot", str(tmp_path / "plot.svg"))
    assert result.returncode == 1
    assert f"{recall}:17: recall 1.5 is not between 0 and 1" in result.stderr
    assert not (tmp_path / "p.md").exists() and not (tmp_path / "plot.svg").exists()


def test_every_make_target_the_page_names_exists(committed_site):
    """The rebuild and download sections may only name targets that the Makefile has."""
    named = {target for code in committed_site.page().select("article code")
             for target in re.findall(r"\bmake ([a-z][a-z-]+)", code.get_text(" "))}
    assert {"sample", "artifacts", "gold", "manifests", "download", "verify"} <= named
    help_text = subprocess.run(["make", "--no-print-directory", "-C", str(ROOT), "help"],
                               capture_output=True, text=True, check=True).stdout
    listed = set(re.findall(r"^\s+make ([a-z-]+)", help_text, flags=re.MULTILINE))
    assert named <= listed, named - listed
