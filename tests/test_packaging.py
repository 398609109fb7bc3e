"""Packaging for two kinds of user (docs/design/index.md#two-installs): the built wheel's core
requirements are the participant's client alone, in compatible ranges; a fresh virtual
environment holding only the core downloads and verifies from a served copy of the site; and
`--help` loads none of the heavy libraries."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import venv
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

from tests.conftest import NEWEST, ROOT, LoopbackSite

# Libraries of the pipeline and the site, and the participant's client's own: none is needed to
# print the help of the command line or of one of its commands.
HEAVY = ("faiss", "h5py", "numpy", "pyarrow", "matplotlib", "jinja2", "markdown", "mkdocs", "dask",
         "distributed", "requests", "urllib3", "tqdm", "yaml")
# What a participant's install must not pull in.
NOT_CORE = {"faiss-cpu", "pyarrow", "h5py", "matplotlib", "mkdocs", "mkdocs-material", "numpy"}


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project's wheel, built once from the work tree (pip's own build, as a publisher builds it)."""
    folder = tmp_path_factory.mktemp("wheel")
    sources = folder / "sources"  # a copy: the build writes its own folders beside pyproject.toml
    shutil.copytree(ROOT / "generator", sources / "generator", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", sources)
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check",
                            "--no-deps", "--wheel-dir", str(folder), str(sources)], check=False, capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    (path,) = folder.glob("laion2b_datasets-*.whl")
    return Path(path)


def requirements(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        metadata = Parser().parsestr(archive.read(name).decode())
    return metadata.get_all("Requires-Dist") or []


def requirement_name(requirement: str) -> str:
    return re.split(r"[^A-Za-z0-9._-]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def test_the_core_requirements_are_the_client_alone_in_ranges(wheel: Path) -> None:
    every = requirements(wheel)
    core = [r for r in every if "extra ==" not in r]
    assert sorted(requirement_name(r) for r in core) == ["pyyaml", "requests", "tqdm", "urllib3"]
    assert not NOT_CORE & {requirement_name(r) for r in core}
    extras = {r.split('extra == "', 1)[1].rstrip('"') for r in every if "extra ==" in r}
    assert extras == {"pipeline", "site", "dask", "test", "bench"}
    # The exact versions live in constraints.txt, one place: the wheel pins none of them.
    assert not [r for r in every if "==" in r.split(";")[0]], every


def test_constraints_pin_every_requirement_to_one_version(wheel: Path) -> None:
    pins = dict(line.split("==") for line in (ROOT / "constraints.txt").read_text().splitlines()
                if line and not line.startswith("#"))
    pinned = {name.lower().replace("_", "-") for name in pins}
    named = {requirement_name(r) for r in requirements(wheel)} - {"laion2b-datasets"}
    assert named <= pinned, named - pinned


def imported_modules(*args: str) -> set[str]:
    """The top-level modules a run of the command line imports (python -X importtime)."""
    run = subprocess.run([sys.executable, "-X", "importtime", "-m", "generator", *args], check=False, capture_output=True,
                         text=True, cwd=ROOT)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.startswith("usage: laion2b"), run.stdout
    names = [line.split("|")[-1].strip() for line in run.stderr.splitlines() if line.startswith("import time:")]
    return {name.split(".")[0] for name in names}


@pytest.mark.parametrize("args", [("--help",), ("verify", "--help"), ("download", "--help")])
def test_help_imports_no_heavy_module(args: tuple[str, ...]) -> None:
    imported = imported_modules(*args)
    assert "generator" in imported  # the measure sees the project's own modules
    assert not imported & set(HEAVY), sorted(imported & set(HEAVY))


def test_the_pipeline_help_loads_the_pipeline() -> None:
    """The counter-check: the same measure does see a heavy module where one is loaded."""
    assert "numpy" in imported_modules("pipeline", "--help")


@pytest.fixture(scope="session")
def core_venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment with the wheel and its core requirements only (from the
    package index, at the versions of constraints.txt)."""
    folder = tmp_path_factory.mktemp("core-venv")
    venv.create(folder, with_pip=False)  # this environment's pip installs into it: no ensurepip (7 s)
    installed = subprocess.run(pip_in(folder, "install", "--quiet", "--constraint", str(ROOT / "constraints.txt"),
                                      str(wheel)),
                               check=False, capture_output=True, text=True)
    assert installed.returncode == 0, installed.stderr[-3000:]
    return Path(folder)


def pip_in(venv_dir: Path, *args: str) -> list[str]:
    """A pip command acting on the environment `venv_dir` (pip's --python), run by this one's pip."""
    return [sys.executable, "-m", "pip", "--python", str(venv_dir / "bin" / "python"), "--disable-pip-version-check",
            *args]


def run_core(venv_dir: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The installed `laion2b` of the core environment, away from the checkout (no import of its sources)."""
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["XDG_CACHE_HOME"] = str(cwd / ".cache")
    return subprocess.run([str(venv_dir / "bin" / "laion2b"), *args], check=False, capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=300)


def test_the_core_install_holds_no_heavy_library(core_venv: Path, tmp_path: Path) -> None:
    listed = subprocess.run(pip_in(core_venv, "list", "--format", "freeze"), check=False, capture_output=True,
                            text=True, cwd=tmp_path)
    names = {line.split("==")[0].lower() for line in listed.stdout.splitlines()}
    assert "laion2b-datasets" in names
    assert not names & NOT_CORE, names & NOT_CORE


def test_the_core_install_downloads_and_verifies_from_a_served_site(core_venv: Path, loopback_site: LoopbackSite,
                                                                    tmp_path: Path) -> None:
    index_url = loopback_site.index_url()
    folder = tmp_path / "data"
    fetched = run_core(core_venv, "download", "--index", index_url, "--subset", "300K", "--dir", str(folder),
                       cwd=tmp_path)
    assert fetched.returncode == 0, fetched.stderr
    index = json.loads((loopback_site.built.site / NEWEST / "datasets.json").read_text())
    gold = {bundle["queries"] for bundle in index["bundles"] if bundle["subset"] == "300K" and bundle["queries"]}
    names = [bundle["name"] for bundle in index["bundles"] if bundle["subset"] in {"300K"} | gold]
    assert names and sorted(p.name for p in folder.iterdir()) == sorted(names)
    for name in names:
        assert (folder / name).read_bytes() == (loopback_site.files / name).read_bytes()
    assert f"{len(names)} of {len(names)} files present and verified" in fetched.stdout

    checked = run_core(core_venv, "verify", str(folder), "--index", index_url, "--no-cache", cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    assert sorted(checked.stdout.splitlines()[:len(names)]) == sorted(f"{name}: OK" for name in names)

    (folder / names[0]).write_bytes(b"x" + (folder / names[0]).read_bytes()[1:])
    spoilt = run_core(core_venv, "verify", str(folder), "--index", index_url, "--no-cache", cwd=tmp_path)
    assert spoilt.returncode == 1 and f"{names[0]}: FAILED" in spoilt.stdout


@pytest.mark.parametrize("command, extra", [("pipeline", "pipeline"), ("render", "site")])
def test_a_command_of_an_extra_names_the_extra_to_install(core_venv: Path, tmp_path: Path, command: str,
                                                          extra: str) -> None:
    args = [command, "sample"] if command == "pipeline" else [command]
    run = run_core(core_venv, *args, cwd=tmp_path)
    assert run.returncode == 1 and run.stdout == ""
    (line,) = run.stderr.splitlines()
    assert line.startswith(f"error: '{command}' needs the Python module '")
    assert line.endswith(f"which is not installed: pip install 'laion2b-datasets[{extra}]'")
    assert list(tmp_path.iterdir()) == []  # nothing written where it ran
