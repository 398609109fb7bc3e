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
REFERENCE = ROOT / "tests" / "reference"
OFFICIAL_BINWALK = ROOT / "data" / "models" / "binwalk" / "binwalk-model-nrefs=1024-permsize=64.jld2"
# Files whose tests build the site in a browser, run the whole pipeline, start a Dask cluster or
# run make end to end: marked `slow`, and left out of `make test-fast`.
SLOW_FILES = {"test_browser.py", "test_cluster.py", "test_command_blocks.py", "test_editions.py",
              "test_make_interface.py", "test_pipeline_run.py", "test_schedule.py"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.name in SLOW_FILES:
            item.add_marker(pytest.mark.slow)


def run_generator(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """The CLI as a user runs it: a separate process, exit status and both streams captured."""
    return subprocess.run([sys.executable, "-m", "generator", *args], cwd=cwd,
                          capture_output=True, text=True)


@pytest.fixture
def data_copy(tmp_path: Path) -> Path:
    """A writable copy of the committed data folder (releases with their manifests, wording, models)."""
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
        return BeautifulSoup((self.site / f"{name}.html").read_text(encoding="utf-8"), "html.parser")

    def html_files(self) -> list[Path]:
        """Every HTML page the build generated, the theme's own assets excluded."""
        return [p for p in self.site.rglob("*.html") if "assets" not in p.relative_to(self.site).parts]


NEWEST, OLDER = "2024", "2023"  # the committed editions: the default datasets page, and the one under its year


def edition_manifests(data: Path, edition: str) -> Path:
    """The manifests folder of an edition in a copy of the data folder."""
    return data / "releases" / edition


def build_site(root: Path, data: Path, strict: int = 1, extra: list[str] = (),
               editions: list[str] | None = None, manifests: Path | None = None) -> BuiltSite:
    """Renders every edition's page from a data folder (releases/, page.yml) and runs
    `mkdocs build --strict` in a copy of the project's site sources. `manifests` holds a folder per
    edition (default: the data folder's releases/)."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "mkdocs.yml", root / "mkdocs.yml")
    generated = {"datasets.md", "editions.md"} | {path.stem for path in (ROOT / "data" / "releases").glob("*.yml")}
    shutil.copytree(ROOT / "docs", root / "docs", dirs_exist_ok=True, ignore=shutil.ignore_patterns(*generated))
    render = run_generator("render", "--releases", str(data / "releases"), "--data", str(manifests or data / "releases"),
                           "--wording", str(data / "page.yml"), "--strict", str(strict),
                           "--docs", str(root / "docs"), *(["--editions", *editions] if editions else []), *extra)
    build = None
    if render.returncode == 0:
        # Not --quiet: with it, mkdocs counts no warning and --strict fails on none.
        build = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict",
                                "-f", str(root / "mkdocs.yml")], cwd=root, capture_output=True, text=True)
    return BuiltSite(root, render, build)


@pytest.fixture(scope="session")
def committed_site(tmp_path_factory) -> BuiltSite:
    """The site built once from the committed data, as `make site` builds it."""
    built = build_site(tmp_path_factory.mktemp("committed-site"), ROOT / "data")
    assert built.render.returncode == 0, built.render.stderr
    assert built.build.returncode == 0, built.build.stderr
    return built


# A release of a few small parts that runs through the whole pipeline in seconds: the
# same kinds of bundle as the sample edition, smaller gold standards.
TINY_RELEASE = """\
name: Tiny test release
date: 2023-01-01
hosts: {local: http://127.0.0.1:8008/tiny}
host: local
sample: {parts: 7, rows: 1000, clusters: 16, seed: 7}
subsets:
  - {label: 1500, parts: [1, 2], rule: dev, rows: 1500}
  - {label: P2, parts: [1, 2], rule: strict}
  - {label: P5, parts: [1, 5], rule: strict}
query_sets:
  - {label: queries, source: drawn, part: 0, count: 100, seed: 3}
bundles:
  - id: clip768
    of: embeddings
    file: laion2B-en-clip768v2-n={subset}.h5
    queries_file: public-queries-100-clip768v2.h5
    datasets: [{key: emb, dtype: float16, cols: 768}]
    queries_datasets: [{key: emb, dtype: float32, cols: 768}]
    publish: [P5, P2, 1500, queries]
  - id: pca32
    of: pca
    file: laion2B-en-pca32v2-n={subset}.h5
    queries_file: public-queries-100-pca32v2.h5
    datasets: [{key: pca32, dtype: float32, cols: 32}]
    publish: [P5, P2, 1500, queries]
  - id: pca96
    of: pca
    file: laion2B-en-pca96v2-n={subset}.h5
    queries_file: public-queries-100-pca96v2.h5
    datasets: [{key: pca96, dtype: float32, cols: 96}]
    publish: [P5, P2, 1500, queries]
  - id: pca-model
    of: pca-model
    file: pca-model-{subset}.h5
    publish: []
  - id: hamming
    of: sketches
    file: laion2B-en-hammingv2-n={subset}.h5
    queries_file: public-queries-100-hammingv2.h5
    datasets: [{key: hamming, dtype: uint64, cols: 16}]
    publish: [P5, P2, 1500, queries]
  - id: gold
    of: gold
    queries: queries
    file: laion2B-en-public-gold-standard-v2-{subset}.h5
    datasets: [{key: knns, dtype: int32, cols: 10}, {key: dists, dtype: float32, cols: 10}]
    publish: [P5, P2, 1500]
  - id: gold-f64
    of: gold
    queries: queries
    file: laion2B-en-public-gold-standard-v2-{subset}-F64-IEEE754.h5
    datasets: [{key: knns, dtype: int32, cols: 50}, {key: dists, dtype: float32, cols: 50}]
    publish: []
  - id: meta
    of: meta
    file: meta-{subset}.tsv
    columns: [caption, NSFW, LICENSE, url]
    publish: [P2, P5]
pca: {train: P5}
sketches:
  create: {seed: 1, sample_rows: 2000}
recall: {k: 10, machine: "the test machine"}
"""


def write_tiny(root: Path):
    """The tiny release written to ROOT/tiny.yml and its synthetic parts to ROOT/parts:
    (release, release file, parts folder)."""
    from generator.pipeline.stages import write_sample
    from generator.release.read import read_release

    path = root / "tiny.yml"
    path.write_text(TINY_RELEASE)
    release = read_release(path)
    write_sample(release, root / "parts")
    return release, path, root / "parts"


# A second tiny edition that reuses the first's subsets P2 and P5 and its query set, and adds a
# selected query set (from part 6, which no subset holds) and an external one: what the 2024
# edition does to 2023's, at test scale. Saved as FIRST.yml and SECOND.yml in one folder, `reuses`
# names the first.
TINY_SECOND_RELEASE = """\
name: Tiny second edition
date: 2024-01-01
reuses: {first}
hosts: {{local: http://127.0.0.1:8008/{second}}}
host: local
subsets:
  - {{label: P2, source: reused}}
  - {{label: P5, source: reused}}
query_sets:
  - {{label: again, source: reused, from: queries}}
  - {{label: hard, source: selected, part: 6, count: 40, seed: 5, candidates: 150, k: 10, min_sum: 3.35, against: P5}}
  - {{label: outside, source: external, count: 30}}
bundles:
  - id: clip768
    of: embeddings
    file: laion2B-en-clip768v2-n={{subset}}.h5
    queries_file: "{{queries}}-queries-clip768v2.h5"
    datasets: [{{key: emb, dtype: float16, cols: 768}}]
    queries_datasets: [{{key: emb, dtype: float32, cols: 768}}]
    publish: [P5, P2, again, hard, outside]
  - id: gold
    of: gold
    queries: again
    file: gold-standard-{{subset}}--again.h5
    datasets: [{{key: knns, dtype: int32, cols: 10}}, {{key: dists, dtype: float32, cols: 10}}]
    publish: [P5, P2]
  - id: gold-hard
    of: gold
    queries: hard
    file: gold-standard-{{subset}}--hard.h5
    datasets: [{{key: knns, dtype: int32, cols: 20}}, {{key: dists, dtype: float32, cols: 20}}]
    publish: [P5]
  - id: gold-private
    of: gold
    queries: outside
    file: gold-standard-{{subset}}--outside.h5
    datasets: [{{key: knns, dtype: int32, cols: 10}}, {{key: dists, dtype: float32, cols: 10}}]
    publish: [P5]
"""


def tiny_editions(folder: Path, first: str = "sample-a", second: str = "sample-b") -> tuple[Path, Path]:
    """The two tiny editions saved in `folder` as FIRST.yml and SECOND.yml, each published under
    its own folder of the loopback address."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = folder / f"{first}.yml", folder / f"{second}.yml"
    paths[0].write_text(TINY_RELEASE.replace("http://127.0.0.1:8008/tiny", f"http://127.0.0.1:8008/{first}"))
    paths[1].write_text(TINY_SECOND_RELEASE.format(first=first, second=second))
    return paths


def bundle_name(release, kind_id: str, label: str) -> str:
    """The file of bundle kind `kind_id` for a subset (or a query set) of `release`."""
    kind = next(kind for kind in release.kinds if kind.id == kind_id)
    return release.bundle(kind, label).name


@dataclass
class LoopbackSite:
    """The committed editions' site built from tiny files served on 127.0.0.1: `root` is served at
    `url`; the files are under files/, the built site under site/ (URLs, sizes and md5s of the
    manifests are those of the tiny files). `release` is the newest edition, whose page is the
    default one."""

    root: Path
    url: str
    built: BuiltSite
    release: object

    @property
    def files(self) -> Path:
        return self.root / "files"

    @property
    def site_url(self) -> str:
        return f"{self.url}/site"

    def index_url(self, edition: str = NEWEST) -> str:
        return f"{self.site_url}/{edition}/datasets.json"


def tiny_bundles(folder: Path, names: list[str]) -> dict[str, bytes]:
    """A small, distinct content for each name, written into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    contents = {name: f"{name}\n".encode() * (3 + number % 5) for number, name in enumerate(names)}
    for name, content in contents.items():
        (folder / name).write_bytes(content)
    return contents


@pytest.fixture(scope="session")
def loopback_site(tmp_path_factory) -> LoopbackSite:
    import functools
    import hashlib
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
    from urllib.parse import quote

    from generator.release.read import read_release

    class QuietHandler(SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    class QuietServer(ThreadingHTTPServer):
        def handle_error(self, request, client_address):
            pass  # a client that hangs up early (a tool refusing an HTML page) is no server error

    root = tmp_path_factory.mktemp("loopback")
    server = QuietServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    data = root / "data"
    shutil.copytree(ROOT / "data", data)
    editions = {edition: read_release(ROOT / "data" / "releases" / f"{edition}.yml") for edition in (OLDER, NEWEST)}
    names = list(dict.fromkeys(b.name for release in editions.values() for b in release.published()))
    contents = tiny_bundles(root / "files", names)
    for edition, release in editions.items():
        mine = [bundle.name for bundle in release.published()]
        folder = edition_manifests(data, edition)
        (folder / "dataset-files-urls.txt").write_text("".join(f"{url}/files/{quote(n)}\n" for n in mine))
        (folder / "dataset-files-md5.txt").write_text("".join(f"{hashlib.md5(contents[n]).hexdigest()}  {n}\n"
                                                              for n in mine))
        (folder / "dataset-files-size.txt").write_text("".join(f"{len(contents[n])} {n}\n" for n in mine))
    release = editions[NEWEST]
    built = build_site(root / "build", data, extra=["--site-url", f"{url}/site/"])
    assert built.build is not None and built.build.returncode == 0, built.render.stderr + (
        built.build.stderr if built.build else "")
    (root / "site").symlink_to(built.site)
    yield LoopbackSite(root, url, built, release)
    server.shutdown()
    server.server_close()


FIRST, SECOND = "sample-a", "sample-b"  # the tiny editions' ids in `make sample-site` tests


@pytest.fixture(scope="session")
def tiny_sample_site(tmp_path_factory):
    """`make sample-site` of the two tiny editions (built once per session), with the artifacts
    (ARTIFACTS_ROOT, at /FIRST and /SECOND) and the built site (at /site) served on 127.0.0.1 where
    the editions' hosts point. Yields (root, url, releases folder); the parts are in root/parts."""
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

    root = tmp_path_factory.mktemp("editions")
    served = root / "served"
    served.mkdir()
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(served)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    releases = root / "releases"
    for path in tiny_editions(releases, FIRST, SECOND):
        path.write_text(path.read_text().replace("http://127.0.0.1:8008", url))
    run = subprocess.run(["make", "--no-print-directory", "-C", str(ROOT), "-j2", "sample-site",
                          f"RELEASES={releases}", f"SAMPLE={root / 'parts'}", f"ARTIFACTS_ROOT={served}",
                          f"SAMPLE_SITE={root / 'site'}", f"SAMPLE_SITE_URL={url}/site/"],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    (served / "site").symlink_to(root / "site" / "site")
    yield root, url, releases
    server.shutdown()
    server.server_close()
