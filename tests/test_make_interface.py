"""The make interface (docs/design/index.md#the-make-interface): yes/no variables take only what they mean, and
paths with
spaces and quotes reach every command whole.

`make -n` prints the commands a target would run, exactly as the shell would get them, without
running them (make still writes the pipeline's rules file, which it includes); the real runs of
verify, download and the pipeline with such paths are in test_verify.py, test_download.py and
test_pipeline_run.py.
"""
from __future__ import annotations

import shlex
import shutil
import subprocess

import pytest

from tests.conftest import ROOT


def make(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "--no-print-directory", "-C", str(ROOT), *args], capture_output=True, text=True)


def commands(*args: str) -> list[list[str]]:
    """The argument lists of the commands `make -n ARGS` prints, as the shell splits them."""
    run = make("-n", *args)
    assert run.returncode == 0, run.stderr
    return [shlex.split(line) for line in run.stdout.replace("\\\n", " ").splitlines() if line.strip()]


def generator_command(*args: str) -> list[str]:
    """The `python -m generator ...` command a target runs (its last one)."""
    return [argv for argv in commands(*args) if argv[1:3] == ["-m", "generator"]][-1]


@pytest.mark.parametrize("target, variable, value", [
    ("verify", "REQUIRE_ALL", "maybe"), ("verify", "NO_CACHE", "2"), ("verify", "REQUIRE_ALL", ""),
    ("render", "STRICT", "strict"), ("sample-site", "STRICT", "1 0")])
def test_a_yes_no_variable_refuses_any_other_value_by_its_name(target, variable, value):
    run = make(target, f"{variable}={value}")
    assert run.returncode == 2 and run.stdout == ""  # stopped before any command ran
    assert (f"*** {variable}={value} is not a yes/no value: use 1 or 0 (also yes/no or true/false, in any "
            "case).  Stop.") in run.stderr


@pytest.mark.parametrize("value, meaning", [("1", True), ("yes", True), ("True", True), ("YES", True),
                                            ("0", False), ("no", False), ("FALSE", False), ("No", False)])
def test_yes_no_variables_take_1_0_yes_no_true_false_in_any_case(value, meaning):
    verify = generator_command("verify", f"REQUIRE_ALL={value}", f"NO_CACHE={value}")
    assert ("--require-all" in verify) is meaning and ("--no-cache" in verify) is meaning
    render = generator_command("render", f"STRICT={value}")
    assert render[render.index("--strict") + 1] == ("1" if meaning else "0")


def test_paths_with_spaces_and_quotes_reach_every_command_whole(tmp_path):
    weird = tmp_path / "it's a \"weird\" place"
    weird.mkdir()
    release = weird / "the release's file.yml"
    shutil.copy(ROOT / "data" / "releases" / "sample-2023.yml", release)
    path = {name: str(weird / name.lower()) for name in
            ("DIR", "DATA", "MANIFEST", "WORDING", "RELEASES", "ARTIFACTS", "SAMPLE", "PARTS", "OUT", "SAMPLE_SITE",
             "ARTIFACTS_ROOT")}

    verify = generator_command("verify", f"DIR={path['DIR']}", f"MANIFEST={path['MANIFEST']}")
    assert verify[3:6] == ["verify", path["DIR"], "--manifest"] and verify[6] == path["MANIFEST"]

    download = generator_command("download", "FILES=a.h5 it's.h5", f"DIR={path['DIR']}", f"DATA={path['DATA']}",
                                 f"RELEASE={release}", "MIRROR=http://127.0.0.1:9/it's")
    assert download[4:6] == ["a.h5", "it's.h5"]
    for option, value in [("--dir", path["DIR"]), ("--data", path["DATA"] + "/the release's file"),
                          ("--release", str(release)), ("--mirror", "http://127.0.0.1:9/it's")]:
        assert download[download.index(option) + 1] == value

    render = generator_command("render", *(f"{v}={path[v]}" for v in ("WORDING", "DATA", "RELEASES", "ARTIFACTS")))
    for option, value in [("--releases", path["RELEASES"]), ("--wording", path["WORDING"]),
                          ("--data", path["DATA"]), ("--artifacts", path["ARTIFACTS"])]:
        assert render[render.index(option) + 1] == value

    sample = generator_command("sample", f"SAMPLE={path['SAMPLE']}", f"RELEASE={release}")
    assert sample[sample.index("--parts") + 1] == path["SAMPLE"]

    stage = generator_command("queries", f"PARTS={path['PARTS']}", f"OUT={path['OUT']}", f"RELEASE={release}")
    assert stage[-2] == "queries" and stage[-1] in ("public", "private")
    for option, value in [("--release", str(release)), ("--parts", path["PARTS"]), ("--out", path["OUT"])]:
        assert stage[stage.index(option) + 1] == value

    site = commands("sample-site", f"SAMPLE_SITE={path['SAMPLE_SITE']}", f"ARTIFACTS_ROOT={path['ARTIFACTS_ROOT']}")
    build = next(argv for argv in site if argv[0].endswith("mkdocs"))
    assert build[-1] == path["SAMPLE_SITE"] + "/mkdocs.yml"
    rendered = next(argv for argv in site if "render" in argv)
    assert rendered[rendered.index("--docs") + 1] == path["SAMPLE_SITE"] + "/docs"
    assert rendered[rendered.index("--data") + 1] == path["ARTIFACTS_ROOT"]


@pytest.mark.parametrize("variable", ["OUT", "PARTS"])
def test_a_pipeline_path_make_cannot_hold_is_refused_by_name(variable):
    run = make("queries", f"{variable}=/tmp/a:b")
    assert run.returncode == 2 and run.stdout == ""
    assert f"*** {variable}=/tmp/a:b: make cannot hold a path with ':' or ';' in its rules.  Stop." in run.stderr


CANONICAL = "https://sisap-challenges.github.io/laion2b-datasets/"


@pytest.mark.parametrize("address, reason", [
    ("", "no host"), ("http://127.0.0.1:8000/", "a loopback host"), ("http://localhost:8000/site/", "a loopback host"),
    ("https://[::1]:8443/", "a loopback host"), ("http://someone@127.0.0.2/", "a loopback host"),
    ("https://", "no host"), ("ftp://example.org/laion/", "no http(s) scheme")])
def test_deploy_refuses_an_address_participants_cannot_reach_by_its_variable(address: str, reason: str) -> None:
    run = make("deploy", f"SITE_URL={address}")
    assert run.returncode == 2 and run.stdout == ""  # refused before anything was built or pushed
    assert (f"*** SITE_URL={address} has {reason}: make deploy publishes the page's download commands for "
            "everyone; set SITE_URL to the address the site is published at (unset: mkdocs.yml's site_url).  "
            "Stop.") in run.stderr


def test_site_and_deploy_use_the_canonical_address_and_serve_and_sample_site_their_local_one() -> None:
    assert f'site_url: !ENV [SITE_URL, "{CANONICAL}"]' in (ROOT / "mkdocs.yml").read_text()
    for target in ("site", "render", "deploy"):
        render = generator_command(target)
        assert render[render.index("--site-url") + 1] == CANONICAL, target
    assert commands("deploy")[-1][-4:] == ["--no-jekyll", "--push", "--force", "site"]
    elsewhere = generator_command("deploy", "SITE_URL=https://example.org/laion/")
    assert elsewhere[elsewhere.index("--site-url") + 1] == "https://example.org/laion/"
    for target in ("serve", "sample-site"):
        render = generator_command(target, "SITE_URL=https://example.org/laion/")
        assert render[render.index("--site-url") + 1] == "http://127.0.0.1:8000/", target
    assert commands("serve")[-1][-3:] == ["serve", "--dev-addr", "127.0.0.1:8000"]
