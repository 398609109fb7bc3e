"""`make verify` / `python -m generator verify`: size first, then md5, the digest cache, manifest formats."""
from __future__ import annotations

import hashlib
import os
import random
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from generator.cli import main
from generator.manifests.model import BYTES_FILE, MD5_FILE, SIZES_FILE
from generator.manifests.read import read_md5s
from generator.manifests.write import md5_lines, size_lines
from generator.transfer.digest_cache import DigestCache
from generator.transfer.verify import Status, check_file, plan_checks, run_checks
from generator.transfer.commands import read_verify_manifests
from tests.conftest import REFERENCE, ROOT as REPO, run_generator

AN_HOUR_AGO = time.time() - 3600


def _bytes(seed: int, n: int) -> bytes:
    return random.Random(seed).randbytes(n)


@pytest.fixture
def bundles(tmp_path):
    """Three files in a folder and their md5 and exact-size manifests in another; the names hold
    spaces and quotes, so that every `make verify` below also checks how make passes them on."""
    files, manifests = tmp_path / "it's the \"files\"", tmp_path / "the manifests, it's them"
    files.mkdir()
    manifests.mkdir()
    contents = {"a.h5": _bytes(1, 300_000), "b.h5": _bytes(2, 200_000), "meta-x.tsv": _bytes(3, 100_001)}
    for name, data in contents.items():
        (files / name).write_bytes(data)
        os.utime(files / name, (AN_HOUR_AGO, AN_HOUR_AGO))
    digests = [(name, hashlib.md5(data).hexdigest()) for name, data in contents.items()]
    (manifests / MD5_FILE).write_text(md5_lines(digests))
    (manifests / BYTES_FILE).write_text(size_lines(((n, len(d)) for n, d in contents.items()), exact=True))
    (manifests / SIZES_FILE).write_text(size_lines(((n, len(d)) for n, d in contents.items()), exact=False))
    return files, manifests / MD5_FILE, contents


def make_verify(folder, manifest, cache_home, *extra) -> subprocess.CompletedProcess:
    env = dict(os.environ, XDG_CACHE_HOME=str(cache_home))
    return subprocess.run(["make", "--no-print-directory", "-C", str(REPO), "verify", f"DIR={folder}",
                           f"MANIFEST={manifest}", *extra], capture_output=True, text=True, env=env)


def verdicts(stdout: str) -> dict[str, str]:
    """`name: VERDICT` lines of the output (the summary line has no such form)."""
    lines = [line.rsplit(": ", 1) for line in stdout.splitlines() if ": " in line and not line[0].isdigit()]
    return {name: verdict for name, verdict in lines}


def hashed_bytes(stdout: str) -> int:
    summary = stdout.strip().splitlines()[-1]
    return int(summary.split("; ")[1].split(" bytes hashed")[0].replace(",", ""))


def flip_one_byte(path: Path, at: int) -> None:
    data = bytearray(path.read_bytes())
    data[at] ^= 0x01
    path.write_bytes(bytes(data))


def test_make_verify_passes_correct_files_and_fails_exactly_the_damaged_ones(bundles, tmp_path):
    files, manifest, contents = bundles
    run = make_verify(files, manifest, tmp_path / "cache")
    assert run.returncode == 0, run.stderr
    assert verdicts(run.stdout) == {"a.h5": "OK", "b.h5": "OK", "meta-x.tsv": "OK"}
    assert run.stdout.strip().splitlines()[-1].startswith("3 OK, 0 FAILED, 0 missing")

    flip_one_byte(files / "b.h5", 12_345)
    with open(files / "meta-x.tsv", "r+b") as stream:
        stream.truncate(50_000)
    run = make_verify(files, manifest, tmp_path / "cache", "NO_CACHE=1")
    assert run.returncode != 0
    assert verdicts(run.stdout) == {"a.h5": "OK", "b.h5": "FAILED", "meta-x.tsv": "FAILED"}
    assert "meta-x.tsv: size is 50000 bytes" in run.stderr and "says 100001" in run.stderr
    assert "b.h5: md5 is" in run.stderr
    # The truncated file failed on its size: only a.h5 and b.h5 were read.
    assert hashed_bytes(run.stdout) == len(contents["a.h5"]) + len(contents["b.h5"])
    assert run.stdout.strip().splitlines()[-1].startswith("1 OK, 2 FAILED, 0 missing")


def test_a_wrong_size_fails_without_reading_the_file(bundles):
    files, manifest, _ = bundles
    (files / "a.h5").write_text("<html>error page</html>")
    plan = plan_checks(read_verify_manifests(manifest), files)
    check = next(c for c in plan.checks if c.name == "a.h5")
    read = []
    result = check_file(check, on_bytes=read.append)
    assert result.status is Status.FAILED and result.hashed_bytes == 0 and read == []
    assert result.reason.startswith("size is 23 bytes") and f"{BYTES_FILE}:1" in result.reason


def test_a_second_run_over_unchanged_files_is_served_from_the_cache(bundles, tmp_path):
    files, manifest, contents = bundles
    total = sum(map(len, contents.values()))
    first = make_verify(files, manifest, tmp_path / "cache")
    assert first.returncode == 0 and hashed_bytes(first.stdout) == total
    second = make_verify(files, manifest, tmp_path / "cache")
    assert second.returncode == 0 and hashed_bytes(second.stdout) == 0
    assert second.stdout.strip().endswith("3 from cache")
    assert (tmp_path / "cache" / "laion2b-datasets" / "md5-digests.json").is_file()

    forced = make_verify(files, manifest, tmp_path / "cache", "NO_CACHE=1")
    assert forced.returncode == 0 and hashed_bytes(forced.stdout) == total

    # A changed file (new modification time) is hashed again, and only it.
    flip_one_byte(files / "b.h5", 7)
    os.utime(files / "b.h5", (AN_HOUR_AGO + 60, AN_HOUR_AGO + 60))
    changed = make_verify(files, manifest, tmp_path / "cache")
    assert changed.returncode != 0 and verdicts(changed.stdout)["b.h5"] == "FAILED"
    assert hashed_bytes(changed.stdout) == len(contents["b.h5"])


def _rewrite_keeping_mtime(path: Path) -> None:
    status = path.stat()
    flip_one_byte(path, 99)
    os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns))


def _replace_by_a_copy_with_one_byte_changed(path: Path) -> None:
    copy = path.with_name("copy")
    shutil.copy2(path, copy)
    flip_one_byte(copy, 99)
    os.utime(copy, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns))
    os.replace(copy, path)


@pytest.mark.parametrize("change", [_rewrite_keeping_mtime, _replace_by_a_copy_with_one_byte_changed])
def test_a_file_changed_behind_the_same_size_and_mtime_is_hashed_again(bundles, tmp_path, capsys, change):
    # The cache compares inode change time, inode and device too, as git's index does.
    files, manifest, contents = bundles
    cache = ["--cache-dir", str(tmp_path / "cache")]
    assert main(["verify", str(files), "--manifest", str(manifest), *cache]) == 0
    before = (files / "b.h5").stat()
    time.sleep(0.05)  # file times tick every few ms: let the change get a ctime of its own
    change(files / "b.h5")
    after = (files / "b.h5").stat()
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    capsys.readouterr()
    assert main(["verify", str(files), "--manifest", str(manifest), *cache]) == 1
    out = capsys.readouterr().out
    assert verdicts(out) == {"a.h5": "OK", "b.h5": "FAILED", "meta-x.tsv": "OK"}
    assert hashed_bytes(out) == len(contents["b.h5"]) and out.strip().endswith("2 from cache")


def test_files_written_moments_ago_are_not_remembered(bundles, tmp_path):
    # Their modification time could still change within the same clock tick.
    files, manifest, _ = bundles
    os.utime(files / "a.h5")
    cache = DigestCache(tmp_path / "cache")
    plan = plan_checks(read_verify_manifests(manifest), files)
    results = {r.check.name: r for r in run_checks(plan.checks, 2, cache)}
    again = {r.check.name: r for r in run_checks(plan.checks, 2, cache)}
    assert not again["a.h5"].from_cache and again["a.h5"].hashed_bytes == results["a.h5"].hashed_bytes
    assert again["b.h5"].from_cache and again["b.h5"].hashed_bytes == 0


def test_an_unreadable_cache_is_ignored_and_replaced(bundles, tmp_path):
    files, manifest, _ = bundles
    cache_file = tmp_path / "cache" / "laion2b-datasets" / "md5-digests.json"
    cache_file.parent.mkdir(parents=True)
    cache_file.write_text("{not json")
    run = make_verify(files, manifest, tmp_path / "cache")
    assert run.returncode == 0, run.stderr
    assert '"format": 2' in cache_file.read_text()
    assert hashed_bytes(make_verify(files, manifest, tmp_path / "cache").stdout) == 0


def test_a_cache_that_cannot_be_written_does_not_fail_the_check(bundles, tmp_path, capsys):
    files, manifest, _ = bundles
    (tmp_path / "not-a-folder").write_text("a file where the cache folder should be")
    status = main(["verify", str(files), "--manifest", str(manifest), "--cache-dir", str(tmp_path / "not-a-folder")])
    out = capsys.readouterr()
    assert status == 0 and out.out.count(": OK") == 3
    assert "warning: digests not remembered" in out.err
    assert (tmp_path / "not-a-folder").read_text() == "a file where the cache folder should be"


def test_parallel_hashing_reads_every_byte_once_and_agrees_with_one_thread(bundles):
    files, manifest, contents = bundles
    plan = plan_checks(read_verify_manifests(manifest), files)
    seen = []
    parallel = {r.check.name: r.md5 for r in run_checks(plan.checks, 3, on_bytes=seen.append)}
    sequential = {r.check.name: r.md5 for r in run_checks(plan.checks, 1)}
    assert parallel == sequential == {n: hashlib.md5(d).hexdigest() for n, d in contents.items()}
    assert sum(seen) == sum(map(len, contents.values()))


def test_closing_the_results_early_stops_the_hashing(bundles):
    files, manifest, _ = bundles
    plan = plan_checks(read_verify_manifests(manifest), files)
    blocks = []

    def slow(n: int) -> None:
        blocks.append(n)
        time.sleep(0.5)  # keeps the one thread busy with the second file while the results are closed
    results = run_checks(plan.checks, 1, on_bytes=slow)
    next(results)
    results.close()
    assert len(blocks) < len(plan.checks)  # the third file was never read


def test_a_manifest_written_by_the_project_passes_md5sum_c(bundles):
    files, manifest, _ = bundles
    shutil.copy(manifest, files / "check.md5")
    run = subprocess.run(["md5sum", "-c", "check.md5"], cwd=files, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.count(": OK") == 3


def test_every_format_md5sum_writes_is_accepted(bundles, tmp_path):
    files, _, contents = bundles
    text_mode = subprocess.run(["md5sum", "a.h5"], cwd=files, capture_output=True, text=True).stdout
    binary_mode = subprocess.run(["md5sum", "-b", "b.h5"], cwd=files, capture_output=True, text=True).stdout
    bsd_tag = subprocess.run(["md5sum", "--tag", "meta-x.tsv"], cwd=files, capture_output=True, text=True).stdout
    messy = tmp_path / "messy.md5"
    messy.write_bytes(("# checksums, kept by hand\r\n\r\n  " + text_mode.upper().replace("A.H5", "a.h5")
                       + binary_mode.replace("*b.h5", "*old/dir/b.h5") + bsd_tag + "\n").encode())
    run = make_verify(files, messy, tmp_path / "cache")
    assert run.returncode == 0, run.stdout + run.stderr
    assert verdicts(run.stdout) == {name: "OK" for name in contents}


@pytest.mark.parametrize("release", ["laion2b-2023", "sisap2024-raw"])
def test_the_real_published_manifests_are_accepted(release, tmp_path):
    manifest = REFERENCE / release / MD5_FILE
    names = read_md5s(manifest).names()
    folder = tmp_path / "files"
    folder.mkdir()
    (folder / names[-1]).write_bytes(b"not the real bundle")
    run = make_verify(folder, manifest, tmp_path / "cache")
    assert run.returncode != 0
    assert verdicts(run.stdout) == {name: "FAILED" if name == names[-1] else "MISSING" for name in names}
    assert run.stdout.strip().splitlines()[-1].startswith(f"0 OK, 1 FAILED, {len(names) - 1} missing")
    assert "error" not in run.stderr


def test_missing_files_fail_only_when_all_are_required(bundles, tmp_path):
    files, manifest, _ = bundles
    (files / "b.h5").unlink()
    lenient = make_verify(files, manifest, tmp_path / "cache")
    assert lenient.returncode == 0 and "2 OK, 0 FAILED, 1 missing" in lenient.stdout
    assert verdicts(lenient.stdout) == {"a.h5": "OK", "b.h5": "MISSING", "meta-x.tsv": "OK"}
    strict = make_verify(files, manifest, tmp_path / "cache", "REQUIRE_ALL=1")
    assert strict.returncode != 0 and verdicts(strict.stdout)["b.h5"] == "MISSING"
    assert (f"error: 1 of the 3 files of {manifest} is not in {files}, and --require-all (REQUIRE_ALL=1) "
            "requires every one\n") in strict.stderr


def test_a_name_listed_twice_with_different_sums_is_refused_or_with_lenient_reported(bundles, tmp_path, capsys):
    """tests/test_conflicts.py has the same case in the page and download."""
    files, manifest, contents = bundles
    manifest.write_text(manifest.read_text() + f"{'0' * 32}  elsewhere/a.h5\n")
    command = ["verify", str(files), "--manifest", str(manifest), "--cache-dir", str(tmp_path / "c")]
    assert main(command) == 1
    out = capsys.readouterr()
    assert out.out == "" and out.err.startswith(f"error: {manifest}:4: 'a.h5' is listed twice with different md5 "
                                                "values: ") and out.err.endswith(" at line 4\n")
    status = main(command + ["--lenient"])
    out = capsys.readouterr()
    assert status == 0 and verdicts(out.out)["a.h5"] == "OK"
    assert f"warning: {manifest}:4: 'a.h5' is listed twice with different md5 values" in out.err
    assert out.err.splitlines()[0].endswith("; the first entry is used")


def test_a_name_that_cannot_be_read_is_failed_open_or_read(bundles, tmp_path, capsys):
    files, manifest, _ = bundles
    (files / "b.h5").unlink()
    (files / "b.h5").mkdir()
    status = main(["verify", str(files), "--manifest", str(manifest), "--cache-dir", str(tmp_path / "c")])
    out = capsys.readouterr()
    assert status == 1
    assert verdicts(out.out) == {"a.h5": "OK", "b.h5": "FAILED open or read", "meta-x.tsv": "OK"}
    assert "b.h5: not a regular file" in out.err


@pytest.mark.parametrize("case, message", [
    ("no folder", "no such folder"),
    ("no manifest", "manifest not found"),
    ("bad manifest", "dataset-files-md5.txt:2: not an md5 line"),
    ("nothing present", "none of the 3 files"),
])
def test_errors_are_one_clear_line_and_exit_1(case, message, bundles, tmp_path, capsys):
    files, manifest, _ = bundles
    if case == "no folder":
        files = tmp_path / "nowhere"
    elif case == "no manifest":
        manifest = tmp_path / "none.md5"
    elif case == "bad manifest":
        manifest.write_text(manifest.read_text().replace("\n", "\nnot a checksum\n", 1))
    else:
        files = tmp_path / "empty"
        files.mkdir()
    status = main(["verify", str(files), "--manifest", str(manifest), "--cache-dir", str(tmp_path / "c")])
    err = capsys.readouterr().err
    assert status == 1 and err.startswith("error: ") and message in err
    assert "Traceback" not in err
    assert not (tmp_path / "c").exists()


def test_help_lists_every_option_with_examples():
    run = run_generator("verify", "--help")
    assert run.returncode == 0
    for option in ("--manifest", "--require-all", "--no-cache", "--cache-dir", "--jobs", "examples:"):
        assert option in run.stdout
    assert "inode change time" in run.stdout and "NO_CACHE=1" in run.stdout
