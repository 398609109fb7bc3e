"""`make download` / `python -m generator download` against a real HTTP server on 127.0.0.1."""
from __future__ import annotations

import hashlib
import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Self

import pytest
import requests

from generator.cli import main
from generator.manifests.model import BYTES_FILE, MD5_FILE, SIZES_FILE, URLS_FILE
from generator.manifests.read import read_manifest_set
from generator.manifests.write import manifest_texts
from generator.transfer.download import DownloadError, claim, download, plan_downloads
from generator.transfer.policy import RetryPolicy
from tests.conftest import run_generator
from tests.http_server import Behaviour, FileServer

REPO = Path(__file__).resolve().parents[1]
NAME = "laion2B-en-pca32v2-n=100K.h5"
OTHER = "public-queries-10k-pca32v2.h5"
GOLD = "laion2B-en-public-gold-standard-v2-100K.h5"

RELEASE = """\
name: Download test release
date: 2024-01-01
hosts: {unused: "http://127.0.0.1:9/unused"}
host: unused
subsets:
  - {label: 100K, parts: [1, 1], rule: dev, rows: 100000}
query_sets:
  - {label: queries, source: drawn, part: 0, count: 10000, seed: 0}
bundles:
  - {id: clip768, of: embeddings, file: "emb-{subset}.h5", queries_file: q.h5,
     datasets: [{key: emb, dtype: float16, cols: 768}], publish: []}
  - {id: pca32, of: pca, file: "laion2B-en-pca32v2-n={subset}.h5", queries_file: public-queries-10k-pca32v2.h5,
     datasets: [{key: pca32, dtype: float32, cols: 32}], publish: [100K, queries]}
  - {id: gold, of: gold, file: "laion2B-en-public-gold-standard-v2-{subset}.h5",
     datasets: [{key: knns, dtype: int32, cols: 100}, {key: dists, dtype: float32, cols: 100}], publish: [100K]}
pca: {train: 100K}
sketches: {create: {seed: 0, sample_rows: 100}}
recall: {k: 10, machine: "the test machine"}
"""


def _bytes(seed: int, n: int) -> bytes:
    return random.Random(seed).randbytes(n)


CONTENTS = {NAME: _bytes(1, 400_000), OTHER: _bytes(2, 150_000), GOLD: _bytes(3, 50_000)}


@pytest.fixture
def server():
    with FileServer() as running:
        for name, data in CONTENTS.items():
            running.files[name] = Behaviour(data)
        yield running


def write_data(folder: Path, base_url: str, exact_sizes: bool = True) -> Path:
    """Manifests (as `make manifests` writes them) and a release for CONTENTS served at `base_url`."""
    folder.mkdir(parents=True, exist_ok=True)
    texts = manifest_texts([(n, len(d), hashlib.md5(d).hexdigest(), base_url) for n, d in CONTENTS.items()])
    for filename, text in texts.items():
        if exact_sizes or filename != BYTES_FILE:
            (folder / filename).write_text(text)
    (folder / "release.yml").write_text(RELEASE)
    return folder


@pytest.fixture
def data(tmp_path, server):
    return write_data(tmp_path / "data", server.base_url)


def run_download(data: Path, target: Path, *args: str) -> int:
    return main(["download", *args, "--dir", str(target), "--data", str(data), "--release",
                 str(data / "release.yml"), "--cache-dir", str(target.parent / "cache"),
                 "--retry-delay", "0.01", "--timeout", "5"])


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_an_interrupted_download_resumes_with_a_range_request(server, data, tmp_path, capsys):
    target = tmp_path / "files"
    server.files[NAME].drops = 1
    assert run_download(data, target, NAME, "--attempts", "1") == 1
    err = capsys.readouterr().err
    half = len(CONTENTS[NAME]) // 2
    assert "gave up after 1 attempts" in err and f"the {half} bytes received are kept" in err
    assert listing(target) == [NAME + ".part"]
    assert (target / (NAME + ".part")).read_bytes() == CONTENTS[NAME][:half]

    assert run_download(data, target, NAME) == 0
    seen = server.requests_for(NAME)
    assert len(seen) == 2 and "Range" not in seen[0].headers
    assert seen[1].headers["Range"] == f"bytes={half}-"
    assert listing(target) == [NAME]
    assert (target / NAME).read_bytes() == CONTENTS[NAME]
    assert main(["verify", str(target), "--manifest", str(data / MD5_FILE),
                 "--cache-dir", str(tmp_path / "cache")]) == 0


def test_transient_failures_are_retried_within_one_run(server, data, tmp_path):
    target = tmp_path / "files"
    server.files[NAME].drops, server.files[NAME].drop_at = 2, 100_000
    assert run_download(data, target, NAME, "--attempts", "3") == 0
    ranges = [r.headers.get("Range") for r in server.requests_for(NAME)]
    assert ranges == [None, "bytes=100000-", "bytes=200000-"]
    assert (target / NAME).read_bytes() == CONTENTS[NAME]


def test_server_errors_are_retried_with_growing_pauses(server, data, tmp_path):
    server.files[NAME].unavailable = 2
    manifests = read_manifest_set(data)
    target, = plan_downloads([NAME], manifests, tmp_path / "files")
    target.path.parent.mkdir()
    pauses = []
    with requests.Session() as session:
        download(target, session, RetryPolicy(attempts=3, first_delay=0.25, timeout=5), sleep=pauses.append)
    assert pauses == [0.25, 0.5]
    assert target.path.read_bytes() == CONTENTS[NAME]


def test_progress_is_told_the_size_the_server_announces(server, tmp_path):
    data = write_data(tmp_path / "data", server.base_url, exact_sizes=False)
    server.files[NAME].drops = 1
    target, = plan_downloads([NAME], read_manifest_set(data), tmp_path / "files")
    assert target.check.size is None
    target.path.parent.mkdir()
    seen = []
    with requests.Session() as session:
        download(target, session, RetryPolicy(attempts=2, first_delay=0.01, timeout=5),
                 on_position=lambda done, total: seen.append((done, total)))
    size = len(CONTENTS[NAME])
    assert {total for _, total in seen} == {size}
    assert seen[-1] == (size, size) and [done for done, _ in seen] == sorted(done for done, _ in seen)


class ReadOpens:
    """Every open of a file under `folder` with read access, seen through the interpreter's audit
    hook (builtins.open and os.open both raise the 'open' event): the download's own lock file
    (opened read-write only to be locked) aside."""

    def __init__(self, folder: Path):
        self.folder, self.paths = str(folder), []

    def __enter__(self) -> Self:
        _WATCHING.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        _WATCHING.remove(self)


_WATCHING: list[ReadOpens] = []


def _watch_opens(event: str, args: tuple) -> None:
    if not _WATCHING or event != "open" or not isinstance(args[0], (str, os.PathLike)):
        return
    path, mode, flags = os.fspath(args[0]), args[1], args[2]
    reads = ("r" in mode or "+" in mode) if isinstance(mode, str) else (flags & os.O_ACCMODE) != os.O_WRONLY
    for watch in _WATCHING:
        if reads and path.startswith(watch.folder) and not path.endswith(".lock"):
            watch.paths.append(Path(path).name)


sys.addaudithook(_watch_opens)  # hooks cannot be removed: it does nothing outside `with ReadOpens(...)`


def _download_once(data: Path, folder: Path, attempts: int = 1) -> int:
    target, = plan_downloads([NAME], read_manifest_set(data), folder)
    folder.mkdir(exist_ok=True)
    with requests.Session() as session, claim(target):
        return download(target, session, RetryPolicy(attempts=attempts, first_delay=0.01, timeout=5))


def test_a_fresh_download_is_verified_without_reading_the_file_back(server, data, tmp_path):
    folder = tmp_path / "files"
    with ReadOpens(folder) as opens:
        read_back = _download_once(data, folder)
    assert read_back == 0 and opens.paths == []
    assert (folder / NAME).read_bytes() == CONTENTS[NAME]


def test_retries_within_one_run_read_nothing_back(server, data, tmp_path):
    folder = tmp_path / "files"
    server.files[NAME].drops, server.files[NAME].drop_at = 2, 100_000
    with ReadOpens(folder) as opens:
        read_back = _download_once(data, folder, attempts=3)
    assert read_back == 0 and opens.paths == []
    assert (folder / NAME).read_bytes() == CONTENTS[NAME]


def test_a_resumed_download_reads_back_only_the_partial_file_once(server, data, tmp_path):
    folder = tmp_path / "files"
    folder.mkdir()
    held = 123_457
    (folder / (NAME + ".part")).write_bytes(CONTENTS[NAME][:held])
    with ReadOpens(folder) as opens:
        read_back = _download_once(data, folder)
    assert read_back == held and opens.paths == [NAME + ".part"]
    assert server.requests_for(NAME)[0].headers["Range"] == f"bytes={held}-"
    assert (folder / NAME).read_bytes() == CONTENTS[NAME]


def test_a_complete_partial_file_is_hashed_once_and_accepted(server, data, tmp_path):
    folder = tmp_path / "files"
    folder.mkdir()
    (folder / (NAME + ".part")).write_bytes(CONTENTS[NAME])
    assert _download_once(data, folder) == len(CONTENTS[NAME])
    assert server.requests_for(NAME) == [] and listing(folder) == [NAME]


@pytest.mark.parametrize("where", ["in the partial file", "in the transfer"])
def test_a_corrupted_byte_is_caught_by_the_running_md5(server, data, tmp_path, capsys, where):
    folder = tmp_path / "files"
    folder.mkdir()
    held = 200_000
    part = bytearray(CONTENTS[NAME][:held])
    if where == "in the partial file":
        part[1000] ^= 1
    else:
        server.files[NAME].wrong_bytes = True
    (folder / (NAME + ".part")).write_bytes(bytes(part))
    assert run_download(data, folder, NAME) == 1
    err = capsys.readouterr().err
    assert f"{server.url(NAME)}: the download does not match the manifests (md5 is " in err
    assert f"{NAME} was not written (the next run starts over)" in err
    assert listing(folder) == []


def test_giving_up_after_the_last_attempt_says_why(server, data, tmp_path, capsys):
    server.files[NAME].unavailable = 5
    assert run_download(data, tmp_path / "files", NAME, "--attempts", "2") == 1
    assert "gave up after 2 attempts (HTTP 503 Service Unavailable)\n" in capsys.readouterr().err
    assert len(server.requests_for(NAME)) == 2 and listing(tmp_path / "files") == []


def test_a_server_ignoring_range_makes_the_download_start_over(server, data, tmp_path):
    target = tmp_path / "files"
    target.mkdir()
    (target / (NAME + ".part")).write_bytes(CONTENTS[NAME][:1000])
    server.files[NAME].ignore_range = True
    assert run_download(data, target, NAME) == 0
    assert server.requests_for(NAME)[0].headers["Range"] == "bytes=1000-"
    assert listing(target) == [NAME]
    assert (target / NAME).read_bytes() == CONTENTS[NAME]


@pytest.mark.parametrize("exact_sizes", [True, False])
def test_wrong_bytes_fail_and_leave_nothing_under_the_final_name(server, tmp_path, capsys, exact_sizes):
    data = write_data(tmp_path / "data", server.base_url, exact_sizes)
    target = tmp_path / "files"
    server.files[NAME].wrong_bytes = True
    assert run_download(data, target, NAME) == 1
    out = capsys.readouterr()
    assert f"{NAME}: FAILED" in out.out
    assert "does not match the manifests (md5 is" in out.err and f"{NAME} was not written" in out.err
    assert listing(target) == []


@pytest.mark.parametrize("content_type, body", [
    ("text/html; charset=utf-8", b"<!DOCTYPE html>\n<html><body>Access denied</body></html>"),
    ("application/octet-stream", b"<!DOCTYPE html>\n<html><body>Access denied</body></html>"),
    ("application/octet-stream", b"\r\n  <HTML><head><title>404</title></head></HTML>"),
])
def test_an_html_page_served_in_place_of_a_bundle_is_rejected(server, data, tmp_path, capsys, content_type, body):
    target = tmp_path / "files"
    server.files[NAME].html, server.files[NAME].html_content_type = True, content_type
    server.files[NAME].html_body = body
    assert run_download(data, target, NAME, "--attempts", "1") == 1
    err = capsys.readouterr().err
    assert f"{server.url(NAME)}: the server sent an HTML page" in err and "nothing was written" in err
    assert listing(target) == []


def test_an_html_page_leaves_an_existing_partial_file_as_it_was(server, data, tmp_path):
    target = tmp_path / "files"
    target.mkdir()
    (target / (NAME + ".part")).write_bytes(CONTENTS[NAME][:1000])
    server.files[NAME].html, server.files[NAME].html_content_type = True, "application/octet-stream"
    assert run_download(data, target, NAME) == 1
    assert (target / (NAME + ".part")).read_bytes() == CONTENTS[NAME][:1000]


def test_a_404_is_a_clear_error_naming_the_url(server, data, tmp_path, capsys):
    target = tmp_path / "files"
    server.files[NAME].missing = True
    assert run_download(data, target, NAME, OTHER) == 1
    out = capsys.readouterr()
    assert f"error: {server.url(NAME)}: HTTP 404 Not Found" in out.err
    assert len(server.requests_for(NAME)) == 1  # a 404 is not retried
    assert listing(target) == [OTHER]  # the other file still came
    assert "1 of 2 files present and verified" in out.out


@pytest.mark.parametrize("written, message", [
    ("../escaped.h5", "'../escaped.h5' would be written outside the target folder"),
    ("/tmp/absolute.h5", "'/tmp/absolute.h5' would be written outside the target folder"),
    ("sub/../../up.h5", "'sub/../../up.h5' would be written outside the target folder"),
])
def test_names_that_would_land_outside_dir_are_refused(server, data, tmp_path, capsys, written, message):
    name = Path(written).name
    server.files[name] = Behaviour(b"x")
    with open(data / MD5_FILE, "a") as md5s:
        md5s.write(f"{hashlib.md5(b'x').hexdigest()}  {written}\n")
    with open(data / URLS_FILE, "a") as urls:
        urls.write(server.url(name) + "\n")
    target = tmp_path / "files"
    assert run_download(data, target, name) == 1
    err = capsys.readouterr().err
    assert message in err and f"{MD5_FILE}:4" in err
    assert server.requests == [] and not target.exists()
    assert not (tmp_path / name).exists() and not Path(written).exists()


@pytest.mark.parametrize("suffix", ["", ".part", ".lock"])
def test_a_symbolic_link_at_the_name_part_or_lock_is_refused_before_any_request(server, data, tmp_path, capsys,
                                                                                  suffix):
    target, elsewhere = tmp_path / "files", tmp_path / "elsewhere"
    target.mkdir()
    elsewhere.mkdir()
    (elsewhere / "precious").write_bytes(b"not to be touched")
    (target / (NAME + suffix)).symlink_to(elsewhere / "precious")
    assert run_download(data, target, NAME) == 1
    err = capsys.readouterr().err
    assert f"error: {target / (NAME + suffix)}: is a symbolic link; refusing to download through it" in err
    assert server.requests == [] and listing(target) == [NAME + suffix]
    assert listing(elsewhere) == ["precious"] and (elsewhere / "precious").read_bytes() == b"not to be touched"


@pytest.mark.parametrize("suffix", [".part", ".lock"])
def test_a_symbolic_link_put_there_after_the_plan_is_not_followed(server, data, tmp_path, suffix):
    # The lock is opened with O_NOFOLLOW (nothing looks before), the partial file is looked at with lstat.
    target, = plan_downloads([NAME], read_manifest_set(data), tmp_path / "files")
    target.path.parent.mkdir()
    outside = tmp_path / "outside"
    outside.write_bytes(b"outside")
    target.path.with_name(NAME + suffix).symlink_to(outside)
    with pytest.raises(DownloadError, match=f"{NAME}{suffix}: is a symbolic link; refusing to write through it"):
        with claim(target), requests.Session() as session:
            download(target, session, RetryPolicy(attempts=1))
    assert outside.read_bytes() == b"outside" and not target.path.exists()


def test_a_url_that_is_not_http_is_refused(data, tmp_path, capsys):
    (data / URLS_FILE).write_text((data / URLS_FILE).read_text() + f"ftp://example.org/{NAME}\n")
    target = tmp_path / "files"
    assert run_download(data, target, NAME) == 1
    err = capsys.readouterr().err
    assert f"{URLS_FILE}:4: 'ftp://example.org/{NAME}' is not an http(s) URL" in err
    assert not target.exists()


def test_a_mirror_that_is_not_http_is_refused(data, tmp_path, capsys):
    target = tmp_path / "files"
    assert run_download(data, target, NAME, "--mirror", "file:///srv/mirror") == 1
    assert "MIRROR 'file:///srv/mirror' is not an http(s) URL" in capsys.readouterr().err
    assert not target.exists()


def test_a_file_already_present_and_verified_is_skipped(server, data, tmp_path, capsys):
    target = tmp_path / "files"
    target.mkdir()
    (target / NAME).write_bytes(CONTENTS[NAME])
    assert run_download(data, target, NAME) == 0
    assert f"{NAME}: OK (already present)" in capsys.readouterr().out
    assert server.requests == []


def test_a_present_file_that_fails_is_fetched_again(server, data, tmp_path, capsys):
    target = tmp_path / "files"
    target.mkdir()
    (target / NAME).write_bytes(CONTENTS[NAME][:-1] + b"\0")
    assert run_download(data, target, NAME) == 0
    assert f"{NAME}: present but FAILED (md5 is" in capsys.readouterr().err
    assert (target / NAME).read_bytes() == CONTENTS[NAME]


def test_a_final_name_that_cannot_be_replaced_keeps_the_verified_download(server, data, tmp_path, capsys):
    target = tmp_path / "files"
    (target / NAME / "inside").mkdir(parents=True)
    assert run_download(data, target, NAME) == 1
    err = capsys.readouterr().err
    assert "present but FAILED open or read (not a regular file)" in err
    assert f"{target / NAME}: cannot be replaced" in err and "Traceback" not in err
    assert (target / (NAME + ".part")).read_bytes() == CONTENTS[NAME]
    assert listing(target / NAME) == ["inside"]


def test_group_subset_and_mirror_select_files_and_servers(server, tmp_path):
    # The manifests point at a host nobody listens on; the mirror is the test server.
    data = write_data(tmp_path / "data", "http://127.0.0.1:9/gone")
    by_group, by_subset = tmp_path / "group", tmp_path / "subset"
    assert run_download(data, by_group, "--group", "pca32", "--mirror", server.base_url + "/") == 0
    assert listing(by_group) == sorted([NAME, OTHER])
    assert run_download(data, by_subset, "--subset", "100K", "--mirror", server.base_url) == 0
    assert listing(by_subset) == sorted([NAME, GOLD, OTHER])  # the subset's files, its gold standard, their queries


@pytest.mark.parametrize("args, message", [
    ([], "name the files to download"),
    ([NAME, "--group", "pca32"], "name the files to download"),
    (["--group", "nope"], "no published bundle in group 'nope' (groups: pca32, gold)"),
    (["--group", "clip768"], "no published bundle in group 'clip768' (groups: pca32, gold)"),
    (["--subset", "7B"], "no published bundle of subset '7B' (subsets: 100K, queries)"),
    (["not-listed.h5"], f"{URLS_FILE}: 'not-listed.h5' has no URL in this manifest"),
])
def test_selection_errors_are_one_clear_message(data, tmp_path, capsys, args, message):
    target = tmp_path / "files"
    assert run_download(data, target, *args) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err
    assert not target.exists()


def test_make_download_fetches_files_through_a_mirror(server, tmp_path):
    # DATA holds a folder per edition; the edition is the release file's name, "release".
    data = write_data(tmp_path / "it's the \"data\"" / "release", "https://example.invalid/bundles")
    target = tmp_path / "downloads, it's here"
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache"))
    run = subprocess.run(["make", "--no-print-directory", "-C", str(REPO), "download", f"FILES={NAME} {OTHER}",
                          f"DIR={target}", f"DATA={data.parent}", f"RELEASE={data / 'release.yml'}",
                          f"MIRROR={server.base_url}"], capture_output=True, text=True, env=env)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "2 of 2 files present and verified" in run.stdout
    assert listing(target) == sorted([NAME, OTHER])
    assert [r.path for r in server.requests] == [f"/files/{NAME}", f"/files/{OTHER}"]


def test_help_lists_every_option_with_examples():
    run = run_generator("download", "--help")
    assert run.returncode == 0
    for option in ("--group", "--subset", "--dir", "--data", "--release", "--mirror", "--attempts",
                   "--retry-delay", "--timeout", "examples:"):
        assert option in run.stdout


# --- two processes, one file ----------------------------------------------------------------

def test_two_processes_downloading_one_file_never_leave_a_wrong_one(tmp_path):
    """A slow process holds the file; a fast one (another mirror) started meanwhile says so and
    writes nothing; the slow one finishes with the right file."""
    held = threading.Event()
    with FileServer() as slow, FileServer() as fast:
        for name, content in CONTENTS.items():
            slow.files[name], fast.files[name] = Behaviour(content, hold=held), Behaviour(content)
        data = write_data(tmp_path / "data", slow.base_url)
        target = tmp_path / "files"
        command = [sys.executable, "-m", "generator", "download", NAME, "--dir", str(target), "--data", str(data),
                   "--release", str(data / "release.yml"), "--cache-dir", str(tmp_path / "cache")]
        first = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            _wait_for(lambda: (target / (NAME + ".part")).is_file() and slow.files[NAME].sent > 0)
            second = subprocess.run(command + ["--mirror", fast.base_url], cwd=REPO, capture_output=True, text=True)
        finally:
            held.set()
            out, err = first.communicate(timeout=60)
    assert second.returncode == 1
    assert second.stderr == (f"error: {target / NAME}: another process is downloading this file (it holds "
                             f"{target / (NAME + '.lock')}); run again once it has finished\n")
    assert fast.requests == []
    assert first.returncode == 0, err
    assert f"{NAME}: OK (downloaded from {slow.url(NAME)})" in out
    assert listing(target) == [NAME] and (target / NAME).read_bytes() == CONTENTS[NAME]


def _wait_for(condition, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_a_lock_left_by_a_killed_process_does_not_stop_the_next_run(server, data, tmp_path):
    target = tmp_path / "files"
    target.mkdir()
    (target / (NAME + ".lock")).write_bytes(b"")  # flock dies with its process; the file stays
    assert run_download(data, target, NAME) == 0
    assert listing(target) == [NAME]


def test_the_lock_is_held_while_the_file_is_checked_and_fetched(server, data, tmp_path):
    target, = plan_downloads([NAME], read_manifest_set(data), tmp_path / "files")
    target.path.parent.mkdir()
    with claim(target):
        with pytest.raises(DownloadError, match="another process is downloading this file"):
            with claim(target):
                pass
        assert target.lock.is_file()
    assert not target.lock.exists()
    with claim(target):  # free again
        pass


# --- bodies that end early or run on ----------------------------------------------------------

def test_a_body_cut_short_without_a_length_is_kept_and_resumed(server, tmp_path, capsys):
    # Only `du -h` sizes, no Content-Length: the dropped connection looks like the end of the body.
    data = write_data(tmp_path / "data", server.base_url, exact_sizes=False)
    target = tmp_path / "files"
    server.files[NAME].content_length, server.files[NAME].drops = "", 1
    assert run_download(data, target, NAME, "--attempts", "1") == 1
    half = len(CONTENTS[NAME]) // 2
    err = capsys.readouterr().err
    assert f"the body ended after {half:,} bytes, short of the file ({data / SIZES_FILE}:1 says about 391K)" in err
    assert f"the {half} bytes received are kept" in err
    assert (target / (NAME + ".part")).read_bytes() == CONTENTS[NAME][:half]

    assert run_download(data, target, NAME) == 0
    assert server.requests_for(NAME)[1].headers["Range"] == f"bytes={half}-"
    assert listing(target) == [NAME]
    assert hashlib.md5((target / NAME).read_bytes()).hexdigest() == hashlib.md5(CONTENTS[NAME]).hexdigest()


@pytest.mark.parametrize("exact_sizes, said", [(True, "says 400,000 bytes"), (False, "says about 391K")])
def test_a_body_running_past_the_file_is_cut_off_early(server, tmp_path, capsys, exact_sizes, said):
    data = write_data(tmp_path / "data", server.base_url, exact_sizes)
    target = tmp_path / "files"
    server.files[NAME].content_length, server.files[NAME].extra = "", 64 * 1024 * 1024
    assert run_download(data, target, NAME, "--attempts", "1") == 1
    err = capsys.readouterr().err
    assert f"{server.url(NAME)}: the server sent more than the " in err and said in err
    assert "the transfer was stopped and the partial file removed" in err
    assert listing(target) == []
    assert server.files[NAME].sent < 32 * 1024 * 1024  # stopped long before the end


def test_a_length_longer_than_the_file_is_refused_before_writing(server, data, tmp_path, capsys):
    target = tmp_path / "files"
    server.files[NAME].extra = 1000
    assert run_download(data, target, NAME, "--attempts", "1") == 1
    err = capsys.readouterr().err
    assert (f"{server.url(NAME)}: the server's file has 401,000 bytes but {data / BYTES_FILE}:1 says 400000; "
            "nothing was written") in err
    assert listing(target) == []


@pytest.mark.parametrize("length", ["abc", "\u00b2", "-5", "9" * 5000, "12 34"])
def test_a_content_length_that_is_not_a_byte_count_is_ignored(server, data, tmp_path, length):
    server.files[NAME].content_length = length
    assert run_download(data, tmp_path / "files", NAME) == 0
    assert (tmp_path / "files" / NAME).read_bytes() == CONTENTS[NAME]


def test_a_mirror_that_cannot_be_parsed_is_one_clear_error(data, tmp_path, capsys):
    assert run_download(data, tmp_path / "files", NAME, "--mirror", "http://[::1") == 1
    assert capsys.readouterr().err == ("error: MIRROR 'http://[::1' is not an http(s) URL; only http and https "
                                       "downloads are accepted\n")
    assert not (tmp_path / "files").exists()


def test_a_size_of_hundreds_of_digits_is_an_error_naming_its_line(data, tmp_path, capsys):
    (data / BYTES_FILE).write_text((data / BYTES_FILE).read_text().replace("400000", "4" * 300, 1))
    assert run_download(data, tmp_path / "files", NAME) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: {data / BYTES_FILE}:1: '4444") and "is not a size" in err
    assert not (tmp_path / "files").exists()
