"""The package's layout holds (docs/design/index.md#package-layout): import-linter contracts pass,
and a broken one is reported."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(project: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(project))
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=project, capture_output=True, text=True, env=env)


def test_the_import_contracts_are_kept():
    run = lint_imports(ROOT)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 broken" in run.stdout


def test_a_product_importing_another_breaks_a_contract(tmp_path):
    shutil.copytree(ROOT / "generator", tmp_path / "generator", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    gold = tmp_path / "generator" / "pipeline" / "gold.py"
    gold.write_text(gold.read_text() + "\nfrom generator.site.model import Page  # noqa: E402,F401\n")
    run = lint_imports(tmp_path)
    assert run.returncode == 1
    assert "Commands over products over shared plumbing BROKEN" in run.stdout
    assert "generator.pipeline.gold -> generator.site.model" in run.stdout

