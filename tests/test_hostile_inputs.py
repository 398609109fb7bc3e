"""No traceback on any input: every reader of user input gives a result or the project's own
error naming the file (and the line, where the problem has one).

Property-based tests feed the readers hand-broken and random inputs: the three manifest
parsers (tests/test_manifests.py fuzzes them with random text; here with numbers), the
release definition and the page's wording (the committed files with values replaced), the
download's MIRROR and the HTTP headers of its answers. The inputs a hostile test found
tracebacks with are each a case of their own, run through the command line.
"""
from __future__ import annotations

from dataclasses import dataclass

import json
from pathlib import Path

import pytest
import requests
import yaml
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from generator.cli import main
from generator.errors import InputError, ProjectError
from generator.io.text import control_character
from generator.manifests.index import index_manifests, parse_index
from generator.manifests.model import MD5_FILE, SIZES_FILE, URLS_FILE, Manifest, ManifestSet
from generator.manifests.read import parse_leniently, parse_md5s, parse_sizes, parse_urls, read_manifest_set
from generator.release.read import parse_release, parse_wording
from generator.release.recall import RECALL_FILE, parse_recall
from generator.release.wording import Texts
from generator.transfer.download import Answer, DownloadError, Target, _Transient, plan_downloads, read_answer
from generator.transfer.verify import Check, plan_checks
from tests.conftest import ROOT, run_generator

DATA = ROOT / "data"
RELEASE_TEXT = (DATA / "releases" / "sample-2023.yml").read_text(encoding="utf-8")
WORDING_TEXT = (DATA / "page.yml").read_text(encoding="utf-8")

# Values that broke readers once, or could: digits that are not ASCII, numbers too long to
# convert, control characters (escaped, as YAML allows them), surrogates, nesting, aliases, tags.
NASTY = ["\u00b2", "\u0661\u0662", "9" * 5000, "-1", "1e999", "0x10", "{x: " * 1100, "{", "}", "&a [*a]",
         "*undefined", "!!python/object/apply:os.system ['true']", '"a\\0b"', '"\\ud800"', '"\\x1b[2J"',
         "null", "~", "", "{subset}", "{subset.x}", "{0}", "{label!r}", "a/b", "..", "http://[::1", "http://h:99999"]


def _scalars(text: str) -> list[tuple[int, int]]:
    """(start, end) of every scalar written in a YAML text, keys and values."""
    spans, stack = [], [yaml.compose(text, Loader=yaml.SafeLoader)]
    while stack:
        node = stack.pop()
        if isinstance(node, yaml.ScalarNode):
            spans.append((node.start_mark.index, node.end_mark.index))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
        elif isinstance(node, yaml.MappingNode):
            stack.extend(item for pair in node.value for item in pair)
    return sorted(spans)


def replacements(text: str):
    """The text with one to three of its scalars replaced, raw or as a quoted YAML string."""
    spans = _scalars(text)
    value = st.one_of(st.sampled_from(NASTY),
                      st.text(st.characters(codec=None, categories=None), max_size=20))
    written = st.one_of(value, value.map(json.dumps))  # json.dumps: a double-quoted YAML string, escapes and all

    @st.composite
    def changed(draw):
        chosen = draw(st.lists(st.sampled_from(spans), min_size=1, max_size=3, unique=True))
        result = text
        for start, end in sorted(chosen, reverse=True):
            result = result[:start] + draw(written) + result[end:]
        return result
    return changed()


def assert_located(error: InputError, path: str, text: str) -> None:
    for problem in error.problems:
        assert problem.origin.path == path
        assert problem.origin.line is None or 1 <= problem.origin.line <= text.count("\n") + 1


def assert_clean_text(value) -> None:
    """Every text a reader hands on can be written to a page, a path or an HDF5 key."""
    if isinstance(value, str):
        assert control_character(value, "\t\n") is None, repr(value)
    elif isinstance(value, (tuple, list)):
        for item in value:
            assert_clean_text(item)
    elif hasattr(value, "__dataclass_fields__"):
        for name in value.__dataclass_fields__:
            assert_clean_text(getattr(value, name))


@seed(18)
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=replacements(RELEASE_TEXT))
def test_a_spoilt_release_definition_gives_a_release_or_a_located_error(text):
    try:
        release = parse_release(text, "fuzz.yml")
    except InputError as error:
        assert_located(error, "fuzz.yml", text)
        return
    assert_clean_text(release)
    assert [bundle.name for bundle in release.bundles()]


@seed(18)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=replacements(WORDING_TEXT))
def test_a_spoilt_wording_gives_a_wording_or_a_located_error(text):
    try:
        wording = parse_wording(text, "fuzz.yml")
    except InputError as error:
        assert_located(error, "fuzz.yml", text)
        return
    assert_clean_text(wording)
    texts = Texts(parse_release(RELEASE_TEXT, "release.yml"), wording)
    for bundle in texts.release.published():
        if bundle.group in wording.groups:
            assert isinstance(texts.description(bundle), str)


@settings(max_examples=150, deadline=None)
@given(number=st.one_of(st.text("0123456789", min_size=1, max_size=600),
                        st.text(st.characters(categories=["Nd", "No"]), min_size=1, max_size=5)),
       unit=st.sampled_from(["", "K", "M", "G", "E", "MB", "B", ".5G", ".5"]))
def test_a_size_of_any_digits_is_read_or_refused_at_its_line(number, unit):
    try:
        size = parse_sizes(f"# sizes\n{number}{unit} x.h5\n", "sizes.txt").get("x.h5").value
    except InputError as error:
        assert [p.origin.line for p in error.problems] == [2] and str(error).startswith("sizes.txt:2: ")
        return
    assert 0 <= size.least <= size.bytes <= size.most and size.bytes < 2**63


# --- the download: MIRROR and the answers' headers -------------------------------------------

MANIFESTS = read_manifest_set(DATA / "releases" / "2023")
NAMES = MANIFESTS.md5s.names()[:2]


@settings(max_examples=200, deadline=None)
@given(mirror=st.one_of(st.text(max_size=40), st.builds("{}://{}{}".format, st.sampled_from(["http", "https", "HTTP"]),
                                                        st.text(max_size=30), st.text(max_size=10))))
def test_any_mirror_gives_urls_requests_can_send_or_a_clear_error(mirror, tmp_path_factory):
    try:
        targets = plan_downloads(NAMES, MANIFESTS, tmp_path_factory.getbasetemp() / "never-made", mirror)
    except ProjectError as error:
        assert str(error)
        return
    for target in targets:
        requests.Request("GET", target.url).prepare()  # what the download will send; no network involved


TARGET = Target("http://127.0.0.1:9/x.h5", Check("x.h5", Path("x.h5"), "0" * 32, None), None)
HEADER_VALUES = st.one_of(st.text(max_size=30), st.from_regex(r"bytes [0-9]{1,25}-[0-9]{1,25}/([0-9]{1,25}|\*)"),
                          st.text("0123456789 -/*", max_size=30), st.sampled_from(["9" * 5000, "\u00b2", "-1"]))


@settings(max_examples=200, deadline=None)
@given(status=st.integers(100, 599), offset=st.integers(0, 2**64),
       headers=st.dictionaries(st.sampled_from(["Content-Length", "Content-Range", "Content-Type"]), HEADER_VALUES))
def test_any_answer_headers_are_understood_or_refused(status, offset, headers):
    try:
        answer = read_answer(TARGET, status, "Reason", requests.structures.CaseInsensitiveDict(headers), offset)
    except (DownloadError, _Transient) as failure:
        assert str(failure)
        return
    if answer is not None:
        assert isinstance(answer, Answer) and answer.start in (0, offset)
        assert answer.total is None or answer.start <= answer.total < 2**63


# --- every reader and planner at once, with a fixed seed ------------------------------------
# The readers above, and the index, the recall table, the lenient manifest reader and the
# download and verify plans, fed text built from pieces that broke a reader once. A fixed seed
# and a bounded count keep the suite's run the same every time; widen them locally to search.

INDEX_KEYS = ["format", "release", "bundles", "name", "group", "subset", "url", "bytes", "size", "md5", "layout",
              "datasets", "columns", "key", "dtype", "shape"]
PIECES = st.sampled_from(NASTY + ["n" * 300, "x" * 140_000, "http://[::1/x.h5", "https://h/a%2Fb.h5", " ", "\t",
                                  "\n", "\r\n", ",", '"', "#", "*", "MD5 (", ") = ", "0" * 32, "147G", "x.h5",
                                  "\u0000", "\ud800", "[", "]", "{", "}", ":", "/"])
LINES = st.lists(st.one_of(PIECES, st.text(max_size=12)), max_size=12).map("".join)
DOCUMENTS = st.lists(LINES, max_size=6).map("\n".join)
JSON_VALUES = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=10),
                                     st.sampled_from(NASTY)),
                           lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                   st.dictionaries(st.sampled_from(INDEX_KEYS), inner, max_size=6)),
                           max_leaves=20)


def assert_in_file(error: InputError, path: str) -> None:
    assert error.problems and all(problem.origin.path == path for problem in error.problems), str(error)


@seed(18)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=st.one_of(JSON_VALUES.map(json.dumps), DOCUMENTS,
                          st.builds(lambda bundles: json.dumps({"format": 1, "release": "r", "bundles": bundles}),
                                    JSON_VALUES)))
def test_any_index_is_read_or_refused_in_its_file(document):
    try:
        index = parse_index(document, "datasets.json")
    except InputError as error:
        assert_in_file(error, "datasets.json")
        return
    manifests = index_manifests(index)
    assert sorted(manifests.md5s.names()) == sorted(entry.name for entry in index.bundles if entry.md5)


@seed(18)
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=st.lists(st.one_of(LINES, st.just("pca32,100K,bruteforce,0.0,0.24,,0.28")), max_size=5))
def test_any_recall_table_is_read_or_refused_at_its_line(lines):
    text = "\n".join(["data,size,algo,buildtime,querytime,params,recall", *lines])
    try:
        table = parse_recall(text, "recall.csv")
    except InputError as error:
        assert_located(error, "recall.csv", text)
        return
    assert all(0 <= row.recall <= 1 for row in table.rows)


@seed(18)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(["url", "size", "md5"]), text=DOCUMENTS)
def test_any_manifest_is_read_strictly_or_leniently_at_its_lines(kind, text):
    manifest, unreadable = parse_leniently(text, "m.txt", kind)
    for line in unreadable:
        assert line.problem.origin.path == "m.txt" and 1 <= line.problem.origin.line <= text.count("\n") + 1
    assert all(entry.origin.path == "m.txt" for entries in manifest.by_name.values() for entry in entries)


@seed(18)
@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(urls=DOCUMENTS, md5s=DOCUMENTS, names=st.lists(st.one_of(PIECES, st.text(max_size=8)).map(lambda n: n + ".h5"),
                                                     max_size=3))
def test_any_manifests_give_download_and_verify_plans_or_located_errors(urls, md5s, names, tmp_path):
    """The plans over a folder that exists (the symbolic-link and name checks touch it)."""
    written = "".join(f"http://127.0.0.1:9/{name}\n" for name in names) + urls
    hashed = "".join(f"{'0' * 32}  {name}\n" for name in names) + md5s
    try:
        manifests = ManifestSet(urls=parse_urls(written, "urls.txt"), sizes=Manifest("size", "sizes.txt"),
                                md5s=parse_md5s(hashed, "md5.txt"))
    except InputError as error:
        assert all(problem.origin.path in ("urls.txt", "md5.txt") for problem in error.problems)
        return
    plan = plan_checks(manifests, tmp_path)
    assert sorted(plan.missing) == sorted(manifests.md5s.names())
    try:
        targets = plan_downloads(manifests.md5s.names(), manifests, tmp_path)
    except InputError as error:
        assert all(problem.origin.path in ("urls.txt", "md5.txt") for problem in error.problems), str(error)
        return
    assert all(target.path.parent == tmp_path for target in targets)


# --- the inputs that gave tracebacks, one case each, through the command line ---------------

def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _write_bytes_replacing(path: Path, old: bytes, new: bytes) -> None:
    data = path.read_bytes()
    assert old in data
    path.write_bytes(data.replace(old, new, 1))


@dataclass(frozen=True)
class Spots:
    """The inputs of a data folder's copy that a case spoils: the 2023 edition's manifests folder and
    release file, the wording, and an index file beside them."""

    data: Path

    @property
    def manifests(self) -> Path:
        return self.data / "releases" / "2023"

    @property
    def release(self) -> Path:
        return self.data / "releases" / "2023.yml"

    @property
    def wording(self) -> Path:
        return self.data / "page.yml"

    @property
    def index(self) -> Path:
        return self.data / "datasets.json"


def _line(path: Path, text: str) -> int:
    """The number of the first line of `path` holding `text`."""
    return next(n for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if text in line)


def _unbalanced_bracket(spots: Spots) -> None:
    _replace(spots.manifests / URLS_FILE,
             "https://sisap-23-challenge.s3.amazonaws.com/SISAP23-Challenge/laion2B-en-clip768v2-n=30M.h5",
             "http://[::1/laion2B-en-clip768v2-n=30M.h5")


def _append(path: Path, text: str) -> None:
    with open(path, "a", encoding="utf-8") as stream:
        stream.write(text)


LONG_NAME = "n" * 248 + ".h5"  # 251 bytes: with '.part', 256, more than most file systems take

HUGE = "1" * 400
# Each case: how it spoils the inputs, the command it runs, and the located message it expects
# (a function of the unspoilt inputs, which know the line).
CASES = {
    "verify, a size of hundreds of digits": (
        lambda s: _replace(s.manifests / SIZES_FILE, "147G", HUGE), "verify",
        lambda s: f"{SIZES_FILE}:{_line(s.manifests / SIZES_FILE, '147G')}: '1111"),
    "render, a size of hundreds of digits": (
        lambda s: _replace(s.manifests / SIZES_FILE, "147G", HUGE + "G"), "render",
        lambda s: f"{SIZES_FILE}:{_line(s.manifests / SIZES_FILE, '147G')}: '1111"),
    "render, a NUL written in the release's name": (
        lambda s: _replace(s.release, "name: LAION2B-en subsets of the SISAP 2023 challenge",
                           'name: "LAION2B\\0-en subsets"'),
        "render", lambda s: f"2023.yml:{_line(s.release, 'name: LAION2B')}: name holds the control character U+0000"),
    "render, a raw NUL byte in the release": (
        lambda s: _write_bytes_replacing(s.release, b"name: LAION2B", b"name: LAION\x002B"),
        "render", lambda s: f"2023.yml:{_line(s.release, 'name: LAION2B')}: not valid YAML: the character U+0000 "
                            "is not allowed"),
    "render, a NUL in a title of the wording": (
        lambda s: _replace(s.wording, "title: 768d CLIP embeddings", 'title: "768d\\0 CLIP"'),
        "render", lambda s: f"page.yml:{_line(s.wording, 'title: 768d CLIP embeddings')}: the title of group "
                            "'clip768' holds the control character U+0000"),
    "render, a wording nested too deeply": (  # the release's case is in test_release.py
        lambda s: s.wording.write_text("a: " + "{x: " * 5000 + "\n"),
        "render", lambda s: "page.yml: the page wording is nested too deeply to be read"),
    "pipeline, a non-ASCII digit as a count": (
        lambda s: _replace(s.release, "count: 10000,", "count: 1000\u00b2,"),
        "pipeline", lambda s: f"2023.yml:{_line(s.release, 'count: 10000,')}: the count of query set 'public' "
                              "must be a whole number"),
    "pipeline, a number of 5000 digits": (
        lambda s: _replace(s.release, "seed: 0}", "seed: " + "7" * 5000 + "}"),
        "pipeline", lambda s: f"2023.yml:{_line(s.release, 'seed: 0}')}: the seed of query set 'public' must be "
                              "a whole number"),
    "verify --index, a JSON number of 5000 digits": (
        lambda s: s.index.write_text('{"format": 1, "release": "x", "bundles": [' + "7" * 5000 + "]}"),
        "verify-index", lambda s: "datasets.json: not a readable index: Exceeds the limit (4300 digits)"),
    "download --index, a JSON number of 5000 digits": (
        lambda s: s.index.write_text('{"format": ' + "1" * 5000 + "}"),
        "download-index", lambda s: "datasets.json: not a readable index: Exceeds the limit (4300 digits)"),
    "render, a recall field over the csv module's limit": (
        lambda s: _replace(s.manifests / RECALL_FILE, "bruteforce", "x" * 140_000),
        "render", lambda s: f"{RECALL_FILE}:2: not a CSV line: field larger than field limit (131072)"),
    "render, a URL with an unbalanced bracket": (
        _unbalanced_bracket, "render",
        lambda s: f"{URLS_FILE}:{_line(s.manifests / URLS_FILE, 'clip768v2-n=30M.h5')}: "
                  "'http://[::1/laion2B-en-clip768v2-n=30M.h5' is not an http(s) URL"),
    "download, a file name of 251 bytes": (
        lambda s: (_append(s.manifests / URLS_FILE, f"http://127.0.0.1:9/{LONG_NAME}\n"),
                   _append(s.manifests / MD5_FILE, f"{'0' * 32}  {LONG_NAME}\n")),
        "download", lambda s: f"{URLS_FILE}:{len((s.manifests / URLS_FILE).read_text().splitlines()) + 1}: "
                              f"'{LONG_NAME}' cannot be stored in "),
}


def _argv(command: str, spots: Spots, tmp_path: Path) -> list[str]:
    out = tmp_path / "out"
    files = tmp_path / "files"
    return {
        "verify": ["verify", str(files), "--manifest", str(spots.manifests / MD5_FILE), "--cache-dir",
                   str(tmp_path / "c")],
        "render": ["render", "--releases", str(spots.data / "releases"), "--wording", str(spots.wording),
                   "--data", str(spots.data / "releases"), "--docs", str(out / "docs")],
        "pipeline": ["pipeline", "--release", str(spots.release), "--parts", str(tmp_path / "parts"),
                     "--out", str(out), "check-parts"],
        "verify-index": ["verify", str(files), "--index", str(spots.index), "--no-cache"],
        "download-index": ["download", "--index", str(spots.index), "--subset", "10M", "--dir", str(out)],
        "download": ["download", LONG_NAME, "--data", str(spots.manifests), "--release", str(spots.release),
                     "--dir", str(files), "--cache-dir", str(tmp_path / "c")],
    }[command]


@pytest.mark.parametrize("case", list(CASES))
def test_an_input_that_once_gave_a_traceback_is_one_error_line(case, data_copy, tmp_path, capsys):
    spoil, command, located = CASES[case]
    spots = Spots(data_copy)
    message = located(spots)
    spoil(spots)
    out = tmp_path / "out"
    files = tmp_path / "files"
    files.mkdir()
    (files / "laion2B-en-clip768v2-n=100M.h5").write_bytes(b"x")
    assert main(_argv(command, spots, tmp_path)) == 1
    err = capsys.readouterr().err
    # One error line, last; the page lists every problem of its inputs (file:line each) before it.
    lines = err.splitlines()
    assert lines[-1].startswith("error: ") and err.count("error: ") == 1 and "Traceback" not in err, err
    assert any(line.startswith((f"{data_copy}/", f"error: {data_copy}/")) and message in line for line in lines), err
    assert not out.exists()


@pytest.mark.parametrize("option, value, message", [
    ("--timeout", "-1", "must be from 0.001 to 86400 seconds, not '-1'"),
    ("--timeout", "nan", "must be from 0.001 to 86400 seconds, not 'nan'"),
    ("--timeout", "inf", "must be from 0.001 to 86400 seconds, not 'inf'"),
    ("--retry-delay", "-1", "must be from 0 to 3600 seconds, not '-1'"),
    ("--attempts", "0", "must be from 1 to 100 attempts, not '0'"),
    ("--attempts", "\u00b2", "'\u00b2' is not a number")])
def test_a_number_option_out_of_range_is_a_usage_error(option, value, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["download", "x.h5", "--dir", str(tmp_path / "files"), option, value])
    assert stop.value.code == 2
    assert f"error: argument {option}: {message}" in capsys.readouterr().err
    assert not (tmp_path / "files").exists()


@pytest.mark.parametrize("option, value, message", [
    ("--workers", "0", "must be from 1 to 4096 workers, not '0'"),
    ("--threads", "-2", "must be from 1 to 4096 threads, not '-2'"),
    ("--workers", "\u00b2", "'\u00b2' is not a number")])
def test_a_cluster_size_out_of_range_is_a_usage_error(option, value, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["pipeline", "--out", str(tmp_path / "out"), option, value, "--scheduler", "local", "gold", "S"])
    assert stop.value.code == 2
    assert f"error: argument {option}: {message}" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_url_with_an_unbalanced_bracket_is_marked_on_a_lenient_page(data_copy, tmp_path):
    """STRICT=0: the page is written, the line is reported as a warning naming it, and its file's
    row is marked (the name is read from the line's last segment)."""
    spots = Spots(data_copy)
    line = _line(spots.manifests / URLS_FILE, "clip768v2-n=30M.h5")
    _unbalanced_bracket(spots)
    docs = tmp_path / "docs"
    run = run_generator("render", "--releases", str(data_copy / "releases"), "--wording", str(spots.wording),
                        "--data", str(data_copy / "releases"), "--docs", str(docs), "--strict", "0")
    assert run.returncode == 0 and "Traceback" not in run.stderr, run.stderr
    assert (f"{spots.manifests / URLS_FILE}:{line}: 'http://[::1/laion2B-en-clip768v2-n=30M.h5' is not an http(s) "
            "URL") in run.stderr
    page = (docs / "2023" / "datasets.md").read_text(encoding="utf-8")
    assert "laion2B-en-clip768v2-n=30M.h5" in page
