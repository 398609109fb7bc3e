"""Every download command block of the page, run as a participant runs it
(docs/design/index.md#what-the-site-publishes): against a
loopback server holding tiny copies of the files, each block downloads exactly its files into an
empty folder and its md5 check passes; with one of its files spoilt on the server, the block fails.

Blocks of curl, wget and aria2c are pasted into bash whole. Each `laion2b` process spends most
of a second loading Python modules, so two of its blocks run whole in bash and every one of them
runs its `laion2b download` line through the command's entry function in this process (the
same code, with the same arguments) before bash runs its md5 check."""
from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from generator.cli import main
from generator.release.read import read_release
from tests.conftest import NEWEST, OLDER, ROOT
from tests.page_blocks import CommandBlock, command_blocks

VENV_BIN = Path(sys.executable).parent
TOOLS = ("curl", "wget", "aria2c", "laion2b")
# Blocks run at the same time: each is mostly waiting on its processes and the server.
PARALLEL = 4


def missing_tools() -> list[str]:
    path = os.pathsep.join([str(VENV_BIN), os.environ.get("PATH", "")])
    return [tool for tool in (*TOOLS, "md5sum", "bash") if shutil.which(tool, path=path) is None]


pytestmark = pytest.mark.skipif(bool(missing_tools()), reason=f"not installed: {', '.join(missing_tools())} "
                                "(.ci/run installs curl, wget and aria2 from Debian)")


# The 2023 edition's page has the most blocks: every representation, two query sets, metadata.
PAGE = f"{OLDER}/datasets"


@pytest.fixture(scope="module")
def older():
    return read_release(ROOT / "data" / "releases" / f"{OLDER}.yml")


@pytest.fixture(scope="module")
def blocks(loopback_site) -> list[CommandBlock]:
    return command_blocks(loopback_site.built.page(PAGE))


def run_block(block: CommandBlock, folder: Path) -> subprocess.CompletedProcess:
    """The block pasted into bash in an empty folder; `laion2b` is the installed command."""
    folder.mkdir(parents=True)
    env = dict(os.environ, PATH=os.pathsep.join([str(VENV_BIN), os.environ.get("PATH", "")]),
               XDG_CACHE_HOME=str(folder.parent / f".cache-{folder.name}"))
    return subprocess.run(["bash", "-c", block.text], cwd=folder, env=env, capture_output=True, text=True,
                          timeout=120)


def run_all(blocks: list[CommandBlock], root: Path) -> list[tuple[CommandBlock, Path, subprocess.CompletedProcess]]:
    folders = [root / f"block-{number}" for number in range(len(blocks))]
    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        runs = list(pool.map(run_block, blocks, folders))
    return list(zip(blocks, folders, runs))


def run_laion2b_in_process(block: CommandBlock, folder: Path, monkeypatch) -> subprocess.CompletedProcess:
    """The block's `laion2b download` through `generator.cli.main`, then its check in bash."""
    command, check = block.text.split("\nmd5sum -c ", 1)
    argv = shlex.split(command.replace("\\\n", " "))
    assert argv[:2] == ["laion2b", "download"] and "\n" not in command.replace("\\\n", ""), block.text
    folder.mkdir(parents=True)
    monkeypatch.setenv("XDG_CACHE_HOME", str(folder.parent / f".cache-{folder.name}"))
    monkeypatch.chdir(folder)
    assert main(argv[1:]) == 0, block.tabs
    return subprocess.run(["bash", "-c", "md5sum -c " + check], cwd=folder, capture_output=True, text=True)


def assert_fetched_exactly(block: CommandBlock, folder: Path, run: subprocess.CompletedProcess, files: Path) -> None:
    where = (block.section, *block.tabs)
    assert run.returncode == 0, (where, run.stdout[-1500:], run.stderr[-1500:])
    assert sorted(p.name for p in folder.iterdir()) == sorted(block.names()), where
    for name in block.names():
        assert (folder / name).read_bytes() == (files / name).read_bytes(), (where, name)
        assert f"{name}: OK\n" in run.stdout, where


def test_every_block_fetches_exactly_its_files_and_its_check_passes(blocks, older, loopback_site, tmp_path,
                                                                    monkeypatch):
    # A block per tool for each representation of each subset and query set, and for each group.
    representations = {b.group for b in older.published() if older.is_query_label(b.subset)}
    groups = {b.group for b in older.published()}
    expected = (len(older.labels + older.query_labels) * len(representations) + len(groups)) * len(TOOLS)
    assert len(blocks) == expected == 144 and {b.tool for b in blocks} == set(TOOLS)
    whole = [b for b in blocks if b.tool != "laion2b" or b.tabs in (("10M", "clip768", "laion2b"),
                                                                      ("meta", "laion2b"))]
    for block, folder, run in run_all(whole, tmp_path / "bash"):
        assert_fetched_exactly(block, folder, run, loopback_site.files)
    for number, block in enumerate(b for b in blocks if b.tool == "laion2b"):
        folder = tmp_path / "laion2b" / f"block-{number}"
        assert_fetched_exactly(block, folder, run_laion2b_in_process(block, folder, monkeypatch), loopback_site.files)


def test_a_block_fails_when_one_of_its_files_is_spoilt(blocks, loopback_site, tmp_path):
    """One subset block and one group block per tool, with a file changed on the server."""
    chosen = [b for b in blocks if b.tabs[:2] == ("10M", "pca32") or b.tabs[0] == "gold"]
    assert sorted(b.tool for b in chosen) == sorted(TOOLS * 2)
    spoilt = next(name for name in chosen[0].names() if "gold-standard" in name)
    served = loopback_site.files / spoilt
    good = served.read_bytes()
    served.write_bytes(good[:-1] + bytes([good[-1] ^ 1]))
    try:
        results = run_all(chosen, tmp_path)
    finally:
        served.write_bytes(good)
    for block, folder, run in results:
        assert run.returncode != 0, (block.tabs, run.stdout)
        assert f"{spoilt}: FAILED" in run.stdout, (block.tabs, run.stdout)
        assert "WARNING: 1 computed checksum did NOT match" in run.stderr or \
               "WARNING: 1 listed file could not be read" in run.stderr, (block.tabs, run.stderr)
        for name in block.names():
            if name != spoilt:
                assert f"{name}: OK\n" in run.stdout, (block.tabs, name)


@pytest.mark.parametrize("edition", [OLDER, NEWEST])
def test_the_check_of_everything_you_have_fetches_the_manifest_and_checks_what_is_there(loopback_site, tmp_path,
                                                                                        edition):
    page = loopback_site.built.page(PAGE if edition == OLDER else "datasets")
    block = page.select_one("#check-everything-you-have").find_next("pre").get_text()
    assert block.startswith(f"curl -fLO {loopback_site.site_url}/{edition}/dataset-files-md5.txt\n")
    folder = tmp_path / "mine"
    folder.mkdir()
    names = [b.name for b in read_release(ROOT / "data" / "releases" / f"{edition}.yml").published()][::4]
    for name in names:
        shutil.copy(loopback_site.files / name, folder / name)
    passed = subprocess.run(["bash", "-c", block], cwd=folder, capture_output=True, text=True)
    assert passed.returncode == 0, passed.stderr
    assert passed.stdout.splitlines() == [f"{name}: OK" for name in names]

    (folder / names[1]).write_bytes(b"spoilt")
    failed = subprocess.run(["bash", "-c", block], cwd=folder, capture_output=True, text=True)
    assert failed.returncode == 1 and f"{names[1]}: FAILED" in failed.stdout


def test_the_newest_pages_blocks_fetch_reused_and_external_files_alike(loopback_site, tmp_path, monkeypatch):
    """The default (2024) page: each of its group blocks for curl and laion2b fetches exactly its
    files, those reused from 2023 included, and checks them."""
    newest = [b for b in command_blocks(loopback_site.built.page()) if b.section == "By group"]
    groups = list(dict.fromkeys(b.group for b in loopback_site.release.published()))
    assert [b.tabs[0] for b in newest if b.tool == "curl"] == groups
    for block, folder, run in run_all([b for b in newest if b.tool == "curl"], tmp_path / "bash"):
        assert_fetched_exactly(block, folder, run, loopback_site.files)
    for number, block in enumerate(b for b in newest if b.tool == "laion2b"):
        folder = tmp_path / "laion2b" / f"block-{number}"
        assert_fetched_exactly(block, folder, run_laion2b_in_process(block, folder, monkeypatch), loopback_site.files)
    names = {name for b in newest for name in b.names()}
    assert names == {b.name for b in loopback_site.release.published()}
