"""Static checks of the package, with the settings of pyproject.toml: mypy (strict) and ruff find nothing, and
every third-party import is a declared dependency (of the extra that uses it, imported only
where it is needed) while every declared dependency is imported."""
from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import ROOT

BIN = Path(sys.executable).parent
# Declared dependencies the package runs as programs or plugins rather than imports: the site
# is built by the `mkdocs` command with the Material theme, and bokeh serves Dask's dashboard.
NOT_IMPORTED = {"mkdocs", "mkdocs-material", "bokeh"}
# The extras whose packages the package itself uses (the others serve the tests and benchmarks),
# and those of them a module may import only inside a function: Dask is optional even for the
# pipeline. (That the participant's core install imports no extra at all is tests/test_packaging.py's.)
PACKAGE_EXTRAS = ("pipeline", "site", "dask")
LAZY_EXTRAS = ("dask",)


def test_mypy_finds_nothing():
    run = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.startswith("Success: no issues found")


def test_ruff_finds_nothing():
    run = subprocess.run([str(BIN / "ruff"), "check", "--no-cache", "--output-format", "concise"],
                         cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "All checks passed!" in run.stdout


def test_ruff_reports_an_unused_import(tmp_path):
    project = package_copy(tmp_path)
    module = project / "generator" / "errors.py"
    module.write_text(module.read_text() + "\nimport json\n")
    run = subprocess.run([str(BIN / "ruff"), "check", "--no-cache", "--output-format", "concise"],
                         cwd=project, capture_output=True, text=True)
    assert run.returncode == 1
    assert "generator/errors.py" in run.stdout and "F401" in run.stdout and "`json` imported but unused" in run.stdout


@dataclass(frozen=True)
class Import:
    module: str      # the top-level module name
    path: str        # the importing file, relative to the project
    line: int
    lazy: bool       # inside a function: run only when that function is called


def third_party_imports(package: Path) -> list[Import]:
    """Every import of a module outside the standard library and the package itself."""
    found = []
    for path in sorted(package.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        lazy = {id(node) for function in ast.walk(tree) if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef))
                for node in ast.walk(function)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top != package.name:
                    found.append(Import(top, path.relative_to(package.parent).as_posix(), node.lineno, id(node) in lazy))
    return found


def declared(project: Path) -> dict[str, str]:
    """Each declared distribution (canonical name) and where: "dependencies" or the extra's name."""
    metadata = tomllib.loads((project / "pyproject.toml").read_text())["project"]
    where = {canonicalize_name(Requirement(r).name): "dependencies" for r in metadata["dependencies"]}
    for extra in PACKAGE_EXTRAS:
        where.update({canonicalize_name(Requirement(r).name): extra for r in metadata["optional-dependencies"][extra]
                      if canonicalize_name(Requirement(r).name) not in where})
    return where


def dependency_problems(project: Path) -> list[str]:
    """What is wrong between the package's imports and pyproject's declarations, one line each."""
    where = declared(project)
    distributions = {module: [canonicalize_name(d) for d in names] for module, names in packages_distributions().items()}
    problems, used = [], set()
    for found in third_party_imports(project / "generator"):
        place = f"{found.path}:{found.line}: {found.module}"
        names = [name for name in distributions.get(found.module, []) if name in where]
        if not names:
            problems.append(f"{place} is imported but no declared dependency provides it")
            continue
        used.update(names)
        extra = where[names[0]]
        if extra in LAZY_EXTRAS and not found.lazy:
            problems.append(f"{place} comes with the '{extra}' extra but is imported when the module loads")
    problems += [f"pyproject.toml: {name} is declared ({where[name]}) but never imported"
                 for name in sorted(set(where) - used - NOT_IMPORTED)]
    return problems


def package_copy(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    shutil.copytree(ROOT / "generator", project / "generator", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", project)
    return project


def test_every_import_is_declared_and_every_dependency_imported():
    assert dependency_problems(ROOT) == []


@pytest.mark.parametrize("line, problem", [
    ("import jsonschema", "generator/errors.py:{n}: jsonschema is imported but no declared dependency provides it"),
    ("import distributed", "generator/errors.py:{n}: distributed comes with the 'dask' extra but is imported when "
                           "the module loads"),
])
def test_an_undeclared_or_eager_import_is_reported(tmp_path, line, problem):
    project = package_copy(tmp_path)
    module = project / "generator" / "errors.py"
    text = module.read_text()
    module.write_text(text + line + "\n")
    assert dependency_problems(project) == [problem.format(n=len(text.splitlines()) + 1)]


def test_a_dependency_never_imported_is_reported(tmp_path):
    project = package_copy(tmp_path)
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('    "tqdm>=', '    "hypothesis>=6.100",\n    "tqdm>=', 1))
    assert dependency_problems(project) == ["pyproject.toml: hypothesis is declared (dependencies) but never imported"]
