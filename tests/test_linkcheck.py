"""`make linkcheck` (not run by the tests against the real servers): its HEAD requests and size
comparisons, against loopback servers."""
from __future__ import annotations

import io
import json
import shutil
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote

from generator.manifests.model import Size
from generator.site.linkcheck import check_links, judge
from tests.conftest import NEWEST, OLDER, ROOT, edition_manifests, run_generator


def linkcheck(data, jobs=4) -> tuple[int, list[str]]:
    """`make linkcheck` of the newest edition, whose manifests are in data/releases/NEWEST."""
    out = io.StringIO()
    status = check_links(ROOT / "data" / "releases" / f"{NEWEST}.yml", edition_manifests(data, NEWEST),
                         timeout=5, jobs=jobs, out=out)
    return status, out.getvalue().splitlines()


def test_every_link_of_a_served_release_answers_with_its_size(loopback_site):
    status, lines = linkcheck(loopback_site.root / "data")
    assert status == 0, lines
    assert len(lines) == 12 and lines[-1] == "11 links: 11 OK, 0 FAILED"
    name = loopback_site.release.published()[0].name
    assert lines[0] == f"OK      {name}: {(loopback_site.files / name).stat().st_size:,} bytes"


def test_a_wrong_size_a_missing_file_and_no_url_fail_naming_each(loopback_site, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(loopback_site.root / "data", data)
    names = [b.name for b in loopback_site.release.published()]
    sizes = edition_manifests(data, NEWEST) / "dataset-files-size.txt"
    actual = (loopback_site.files / names[1]).stat().st_size
    sizes.write_text(sizes.read_text().replace(f"{actual} {names[1]}\n", f"{actual + 1} {names[1]}\n"))
    urls = edition_manifests(data, NEWEST) / "dataset-files-urls.txt"
    text = urls.read_text()
    urls.write_text(text.replace(f"/files/{quote(names[2])}", f"/gone/{quote(names[2])}")
                    .replace(next(line for line in text.splitlines() if line.endswith(quote(names[3]))) + "\n", ""))
    status, lines = linkcheck(data)
    assert status == 1
    assert f"FAILED  {names[1]}: Content-Length {actual:,}, the size manifest says {actual + 1:,} bytes" in lines
    assert f"FAILED  {names[2]}: HTTP 404 File not found" in lines
    assert f"FAILED  {names[3]}: no URL in the URL manifest" in lines
    assert lines[-1] == "11 links: 8 OK, 3 FAILED"


class RefusesHead(BaseHTTPRequestHandler):
    """A server that answers HEAD with 405 and GET with a body of a stated length."""

    LENGTH = "80740352"  # 77MB, the size of the 2024 gold standards

    def log_message(self, *args):
        pass

    def do_HEAD(self):
        self.send_response(405)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", self.LENGTH)
        self.end_headers()
        self.wfile.write(b"x" * 1024)  # the check reads no body; the client hangs up


def test_a_server_refusing_head_is_asked_with_a_get_whose_body_is_not_read(tmp_path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), RefusesHead)
    server.handle_error = lambda *args: None  # the client hanging up mid-body is expected
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        data = tmp_path / "data"
        shutil.copytree(ROOT / "data", data, ignore=shutil.ignore_patterns("models"))
        base = f"http://127.0.0.1:{server.server_address[1]}"
        urls = edition_manifests(data, NEWEST) / "dataset-files-urls.txt"
        urls.write_text(urls.read_text().replace("https://sisap-23-challenge.s3.amazonaws.com/SISAP23-Challenge", base)
                        .replace("http://ingeotec.mx/~sadit/sisap2024-data", base))
        status, lines = linkcheck(data, jobs=8)
    finally:
        server.shutdown()
        server.server_close()
    gold = [line for line in lines if "gold-standard" in line and "--public-" in line]
    assert gold == [f"OK      gold-standard-dbsize={s}--public-queries-2024-laion2B-en-clip768v2-n=10k.h5: "
                    "80,740,352 bytes, 77MB in the manifest" for s in ("100M", "10M", "1M", "300K")]
    assert "FAILED  laion2B-en-clip768v2-n=100M.h5: Content-Length 80,740,352 (77M), the size manifest says 147GB" \
        in lines
    assert status == 1


class RefusesHeadAt7_7M(RefusesHead):
    LENGTH = "8074035"  # 7.7M, the size of the 2023 gold standards of 100 neighbours


def served_by(handler: type[BaseHTTPRequestHandler], data: Path) -> ThreadingHTTPServer:
    """A loopback server of `handler`, which the URL manifest of `data` (a copy of the committed one) points at."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.handle_error = lambda *args: None  # type: ignore[method-assign]  # a client hanging up is expected
    threading.Thread(target=server.serve_forever, daemon=True).start()
    shutil.copytree(ROOT / "data", data, ignore=shutil.ignore_patterns("models"))
    urls = edition_manifests(data, OLDER) / "dataset-files-urls.txt"
    base = f"http://127.0.0.1:{server.server_address[1]}"
    urls.write_text(urls.read_text().replace("https://sisap-23-challenge.s3.amazonaws.com/SISAP23-Challenge", base))
    return server


def test_record_writes_the_stated_sizes_of_the_passing_links_and_the_index_carries_them(tmp_path: Path) -> None:
    """The five gold standards of 2023 (7.7M in its manifest) pass with the server's 8,074,035 bytes;
    every other link states a size its manifest rules out (or is not served) and records nothing."""
    data = tmp_path / "data"
    server = served_by(RefusesHeadAt7_7M, data)
    folder = edition_manifests(data, OLDER)
    (folder / "dataset-files-bytes.txt").write_text("12345 meta-10M.tsv\n")  # known before, kept
    try:
        out = io.StringIO()
        status = check_links(data / "releases" / f"{OLDER}.yml", folder, timeout=5, jobs=8, out=out, record=True)
    finally:
        server.shutdown()
        server.server_close()
    assert status == 1
    gold = [f"laion2B-en-public-gold-standard-v2-{s}.h5" for s in ("100M", "30M", "10M", "300K", "100K")]
    assert (folder / "dataset-files-bytes.txt").read_text().splitlines() == \
        [f"8074035 {name}" for name in gold] + ["12345 meta-10M.tsv"]
    assert out.getvalue().splitlines()[-1] == f"recorded 6 exact sizes in {folder / 'dataset-files-bytes.txt'}"

    page = tmp_path / "page"
    rendered = run_generator("render", "--releases", str(data / "releases"), "--data", str(data / "releases"),
                             "--strict", "0", "--docs", str(page))
    assert rendered.returncode == 0, rendered.stderr
    index = {b["name"]: b for b in json.loads((page / OLDER / "datasets.json").read_text())["bundles"]}
    assert [index[name]["bytes"] for name in gold] == [8074035] * 5
    assert index["laion2B-en-clip768v2-n=10M.h5"]["bytes"] is None


def test_record_by_make_writes_no_manifest_when_no_link_passes(tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(ROOT / "data", data, ignore=shutil.ignore_patterns("models"))
    urls = edition_manifests(data, NEWEST) / "dataset-files-urls.txt"
    urls.write_text(urls.read_text().replace("https://sisap-23-challenge.s3.amazonaws.com", "http://127.0.0.1:9")
                    .replace("http://ingeotec.mx", "http://127.0.0.1:9"))
    run = subprocess.run(["make", "--no-print-directory", "-C", str(ROOT), "linkcheck", "RECORD=1",
                          f"DATA={data / 'releases'}", f"RELEASES={data / 'releases'}"],
                         check=False, capture_output=True, text=True)
    assert run.returncode == 2 and "Traceback" not in run.stderr  # make's status for a failed command
    assert "11 links: 0 OK, 11 FAILED" in run.stdout
    assert run.stdout.splitlines()[-1] == "no exact size to record: no link passed"
    assert not (edition_manifests(data, NEWEST) / "dataset-files-bytes.txt").exists()


def test_judge_without_a_size_or_a_content_length():
    assert judge("a.h5", 200, "OK", None, Size.parse("7.7M")).line == \
        "FAILED  a.h5: the server states no size (Content-Length None)"
    assert judge("a.h5", 200, "OK", "12", None).line == "OK      a.h5: 12 bytes; the manifests state no size to compare"
    assert judge("a.h5", 403, "Forbidden", "12", None).line == "FAILED  a.h5: HTTP 403 Forbidden"


def test_an_unreachable_link_is_a_failure_not_a_traceback(tmp_path):
    data = tmp_path / "data"
    shutil.copytree(ROOT / "data", data, ignore=shutil.ignore_patterns("models"))
    urls = edition_manifests(data, OLDER) / "dataset-files-urls.txt"
    urls.write_text(urls.read_text().replace("https://sisap-23-challenge.s3.amazonaws.com", "http://127.0.0.1:9")
                    .replace("http://ingeotec.mx", "http://127.0.0.1:9"))
    result = run_generator("linkcheck", "--release", str(data / "releases" / f"{OLDER}.yml"),
                           "--data", str(edition_manifests(data, OLDER)), "--timeout", "2")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "FAILED  meta-10M.tsv: http://127.0.0.1:9/SISAP23-Challenge/meta-10M.tsv: no answer (" in result.stdout
    assert result.stdout.splitlines()[-1] == "43 links: 0 OK, 43 FAILED"
