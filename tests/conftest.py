"""Shared fixtures: the repository, copies of its data to spoil, and site builds in temporary folders."""
from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT.parent / "shared" / "reference"
OFFICIAL_BINWALK = REFERENCE / "binwalk" / "binwalk-model-nrefs=1024-permsize=64.jld2"


def run_generator(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """The CLI as a user runs it: a separate process, exit status and both streams captured."""
    return subprocess.run([sys.executable, "-m", "generator", *args], cwd=cwd,
                          capture_output=True, text=True)


@pytest.fixture
def data_copy(tmp_path: Path) -> Path:
    """A writable copy of the committed data folder (manifests, catalog, recall CSV)."""
    target = tmp_path / "data"
    shutil.copytree(ROOT / "data", target)
    return target


@dataclass
class BuiltSite:
    root: Path
    render: subprocess.CompletedProcess
    build: subprocess.CompletedProcess | None

    @property
    def site(self) -> Path:
        return self.root / "site"

    def page(self, name: str = "datasets") -> BeautifulSoup:
        return BeautifulSoup((self.site / name / "index.html").read_text(encoding="utf-8"), "html.parser")

    def html_files(self) -> list[Path]:
        """Every HTML page the build generated, the theme's own assets excluded."""
        return [p for p in self.site.rglob("*.html") if "assets" not in p.relative_to(self.site).parts]


def build_site(root: Path, data: Path, catalog: Path | None = None, strict: int = 1,
               extra: list[str] = ()) -> BuiltSite:
    """Renders the page and runs `mkdocs build --strict` in a copy of the project's site sources."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "mkdocs.yml", root / "mkdocs.yml")
    shutil.copytree(ROOT / "docs", root / "docs", dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("datasets.md", "generated"))
    render = run_generator("render", "--data", str(data), "--catalog", str(catalog or data / "catalog.yml"),
                           "--strict", str(strict), "--out", str(root / "docs" / "datasets.md"),
                           "--plot", str(root / "docs" / "assets" / "generated" / "recall-projections.svg"), *extra)
    build = None
    if render.returncode == 0:
        build = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet",
                                "-f", str(root / "mkdocs.yml")], cwd=root, capture_output=True, text=True)
    return BuiltSite(root, render, build)


@pytest.fixture(scope="session")
def committed_site(tmp_path_factory) -> BuiltSite:
    """The site built once from the committed data, as `make site` builds it."""
    built = build_site(tmp_path_factory.mktemp("committed-site"), ROOT / "data")
    assert built.render.returncode == 0, built.render.stderr
    assert built.build.returncode == 0, built.build.stderr
    return built
