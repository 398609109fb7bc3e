"""One rule for a name listed twice with different values (docs/design/failures.md#strict-and-lenient-rendering):
the page, download and verify refuse it alike, naming both lines; leniently (STRICT=0) each warns
with the same words and uses the first entry. And flags that contradict each other are an error."""
from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from generator.manifests.model import MD5_FILE
from tests.conftest import run_generator

NAME = "laion2B-en-clip768v2-n=100K.h5"  # a file of the 2023 edition that no later edition reuses
CONTENT = b"one hundred thousand rows, in short\n"
FIRST, SECOND = hashlib.md5(CONTENT).hexdigest(), "0" * 32


@pytest.fixture
def listed_twice(data_copy: Path, tmp_path: Path) -> tuple[Path, Path, str]:
    """The data folder with NAME's md5 line in the 2023 edition's manifest set to CONTENT's and a
    second, different line at the end; a folder holding NAME with CONTENT; the problem as every
    tool words it."""
    md5 = edition(data_copy) / MD5_FILE
    lines = md5.read_text().splitlines()
    first = next(n for n, line in enumerate(lines) if line.endswith(f"  {NAME}"))
    lines[first] = f"{FIRST}  {NAME}"
    lines.append(f"{SECOND}  {NAME}")
    md5.write_text("\n".join(lines) + "\n")
    files = tmp_path / "files"
    files.mkdir()
    (files / NAME).write_bytes(CONTENT)
    problem = (f"{md5}:{len(lines)}: '{NAME}' is listed twice with different md5 values: '{FIRST}' at line "
               f"{first + 1} and '{SECOND}' at line {len(lines)}")
    return data_copy, files, problem


def edition(data: Path) -> Path:
    return data / "releases" / "2023"


def render(data: Path, out: Path, *options: str):
    return run_generator("render", "--releases", str(data / "releases"), "--wording", str(data / "page.yml"),
                         "--data", str(data / "releases"), "--docs", str(out), *options)


def download(data: Path, files: Path, tmp_path: Path, *options: str):
    return run_generator("download", NAME, "--data", str(edition(data)), "--release",
                         str(data / "releases" / "2023.yml"), "--dir", str(files), "--cache-dir",
                         str(tmp_path / "cache"), *options)


def verify(data: Path, files: Path, tmp_path: Path, *options: str):
    return run_generator("verify", str(files), "--manifest", str(edition(data) / MD5_FILE), "--cache-dir",
                         str(tmp_path / "cache"), *options)


def test_strict_every_tool_refuses_the_name_naming_both_lines(listed_twice, tmp_path):
    data, files, problem = listed_twice
    page, fetched, checked = (render(data, tmp_path / "page"), download(data, files, tmp_path),
                              verify(data, files, tmp_path))
    for run in (page, fetched, checked):
        assert run.returncode == 1 and "Traceback" not in run.stderr, run.stderr
        assert problem in run.stderr.splitlines() + [line.removeprefix("error: ") for line in run.stderr.splitlines()]
    assert fetched.stderr == checked.stderr == f"error: {problem}\n"
    assert fetched.stdout == checked.stdout == ""
    assert not (tmp_path / "page").exists()


def test_lenient_every_tool_warns_alike_and_uses_the_first_entry(listed_twice, tmp_path):
    data, files, problem = listed_twice
    page = render(data, tmp_path / "page", "--strict", "0")
    assert page.returncode == 0 and problem in page.stderr.splitlines(), page.stderr
    assert FIRST in (tmp_path / "page" / "2023" / "datasets.md").read_text(encoding="utf-8")
    warning = f"warning: {problem}; the first entry is used"
    fetched = download(data, files, tmp_path, "--lenient")
    assert fetched.returncode == 0 and warning in fetched.stderr.splitlines(), fetched.stderr
    assert f"{NAME}: OK (already present)" in fetched.stdout
    checked = verify(data, files, tmp_path, "--lenient")
    assert checked.returncode == 0 and warning in checked.stderr.splitlines(), checked.stderr
    assert f"{NAME}: OK" in checked.stdout.splitlines()


def test_cache_dir_with_no_cache_is_an_error(tmp_path):
    (tmp_path / "files").mkdir()
    run = run_generator("verify", str(tmp_path / "files"), "--no-cache", "--cache-dir", str(tmp_path / "cache"))
    assert run.returncode == 1
    assert run.stderr == ("error: --cache-dir says where to keep remembered digests and --no-cache to use none: "
                          "give one of them\n")
    assert not (tmp_path / "cache").exists()
