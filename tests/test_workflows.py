"""The GitHub workflows pass actionlint (installed from PyPI with the test extra), and the tests run
on every push and pull request before the site is deployed."""
from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

from tests.conftest import ROOT

ACTIONLINT = Path(sys.executable).parent / "actionlint"


def actionlint(*paths: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(ACTIONLINT), "-no-color", *map(str, paths)], cwd=ROOT, capture_output=True, text=True)


def test_the_workflows_pass_actionlint():
    workflows = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
    assert workflows
    run = actionlint(*workflows)
    assert run.returncode == 0, run.stdout + run.stderr


def test_actionlint_reports_a_broken_workflow(tmp_path):
    """The check is real: a step name with an unquoted colon is YAML that GitHub cannot read."""
    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
                      "      - name: Build (strict: yes)\n        run: make site\n")
    run = actionlint(broken)
    assert run.returncode == 1
    assert "could not parse as YAML" in run.stdout


def test_the_tests_run_on_every_push_and_pull_request_before_the_site_is_deployed():
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "pages.yml").read_text())
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as true
    assert "push" in triggers and "pull_request" in triggers
    assert (triggers["push"] or {}).get("branches") is None
    test = workflow["jobs"]["test"]
    assert "if" not in test
    pythons = test["strategy"]["matrix"]["python"]
    assert len(pythons) == 2 and pythons[0] == lowest_supported_python()
    assert (ROOT / ".ci" / "run").read_text().rstrip().endswith("make test")
    assert any(step.get("run") == ".ci/run" for step in test["steps"])
    assert "test" in workflow["jobs"]["build"]["needs"] and "test" in workflow["jobs"]["deploy"]["needs"]


def test_ci_lists_the_slowest_tests():
    assert "--durations=10" in pyproject()["tool"]["pytest"]["ini_options"]["addopts"].split()


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def lowest_supported_python() -> str:
    return pyproject()["project"]["requires-python"].removeprefix(">=")
