"""A default `make site` publishes the canonical address (docs/maintainers/publishing.md#the-sites-address):
no page or published file of site/ points at a loopback or empty-host URL."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from tests.conftest import NEWEST, OLDER, ROOT

CANONICAL = "https://sisap-challenges.github.io/laion2b-datasets/"
# A URL at a loopback host, or with no host at all.
UNREACHABLE = re.compile(r"[a-z][a-z0-9+.-]*://(?:[^/\s\"'<>@]*@)?(?:127\.|localhost\b|\[::1\]|0\.0\.0\.0\b|/)",
                         re.IGNORECASE)


@pytest.fixture(scope="module")
def made_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`make site` with nothing set, in a copy of the project's site sources (the same virtual environment)."""
    root = tmp_path_factory.mktemp("make-site")
    for name in ("Makefile", "mkdocs.yml", "pyproject.toml", "constraints.txt"):
        shutil.copy2(ROOT / name, root / name)  # their times kept: the environment is up to date
    shutil.copytree(ROOT / "data", root / "data")
    generated = ["datasets.md", "editions.md"] + [path.stem for path in (ROOT / "data" / "releases").glob("*.yml")]
    shutil.copytree(ROOT / "docs", root / "docs", ignore=shutil.ignore_patterns(*generated))
    (root / ".venv").symlink_to(ROOT / ".venv")
    env = {key: value for key, value in os.environ.items() if key not in ("SITE_URL", "REPO_URL")}
    run = subprocess.run(["make", "--no-print-directory", "site"], cwd=root, env=env, check=False,
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    return root / "site"


def published_files(site: Path) -> list[Path]:
    """Every file of the site but the theme's own assets (its scripts and styles)."""
    return [path for path in site.rglob("*") if path.is_file()
            and not (path.relative_to(site).parts[0] == "assets" and path.relative_to(site).parts[1] != "generated")]


def test_no_page_or_published_file_points_at_a_loopback_or_empty_host(made_site: Path) -> None:
    files = published_files(made_site)
    assert {"datasets.html", "datasets.json", "dataset-files-md5.txt", "croissant.json", "sitemap.xml"} <= {
        p.name for p in files}
    found = {}
    for path in files:
        if path.suffix in (".html", ".json", ".txt", ".xml", ".svg", ".css", ".js"):
            hits = UNREACHABLE.findall(path.read_text(encoding="utf-8", errors="replace"))
            if hits:
                found[str(path.relative_to(made_site))] = sorted(set(hits))[:5]
    assert found == {}


def test_the_commands_and_the_site_map_read_the_canonical_address(made_site: Path) -> None:
    html = (made_site / "datasets.html").read_text(encoding="utf-8")
    page = BeautifulSoup(html, "html.parser").get_text()
    assert page.count(f"--index {CANONICAL}{NEWEST}/datasets.json") >= 10
    assert f"curl -fLO {CANONICAL}{NEWEST}/dataset-files-md5.txt" in page
    older = BeautifulSoup((made_site / OLDER / "datasets.html").read_text(encoding="utf-8"), "html.parser").get_text()
    assert older.count(f"--index {CANONICAL}{OLDER}/datasets.json") >= 30
    assert f"<loc>{CANONICAL}datasets.html</loc>" in (made_site / "sitemap.xml").read_text(encoding="utf-8")


def test_the_pattern_finds_what_it_is_meant_to_find() -> None:
    """The check above is only as good as its pattern: each kind of unreachable URL is caught."""
    for bad in ("http://127.0.0.1:8000/datasets.json", "curl -fLO http://localhost/x", "https://[::1]:80/",
                "http://u@127.0.0.5/", "http:///datasets.json", "http://0.0.0.0:8000/"):
        assert UNREACHABLE.search(bad), bad
    for good in (f"{CANONICAL}datasets.json", "https://sisap-23-challenge.s3.amazonaws.com/a.h5",
                 "http://www.w3.org/2000/svg", "https://127example.org/"):
        assert not UNREACHABLE.search(good), good
