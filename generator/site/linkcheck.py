"""`make linkcheck`: every download link of the page answers, with the size the manifests state.

A HEAD request per link (a GET whose body is never read where a server refuses HEAD); its
Content-Length is compared with the exact size when a manifest knows it, else with the `du -h`
size within the rounding the page allows. With --record (RECORD=1), the sizes the servers state
are written into the exact size manifest, so that the page and the index then carry exact bytes
(docs/maintainers/publishing.md#exact-sizes). It talks to the real servers, so it is a
maintainer's check, not a test.
"""
from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import requests

from generator.io.files import atomic_write_text
from generator.manifests.model import BYTES_FILE, Size, human_size
from generator.manifests.read import read_manifest_set
from generator.manifests.write import size_lines
from generator.release.read import read_release
from generator.site.join import size_disagrees


@dataclass(frozen=True)
class LinkResult:
    """One link's verdict; `n_bytes` the size its server states, when it agrees with the manifests."""

    name: str
    ok: bool
    message: str
    n_bytes: int | None = None

    @property
    def line(self) -> str:
        return f"{'OK' if self.ok else 'FAILED':<6}  {self.name}: {self.message}"


def judge(name: str, status: int, reason: str, length: str | None, size: Size | None) -> LinkResult:
    """What a link's answer (status, Content-Length header) says against the manifests' size."""
    if status != 200:
        return LinkResult(name, False, f"HTTP {status} {reason}")
    if length is None or not length.isdigit():
        return LinkResult(name, False, f"the server states no size (Content-Length {length!r})")
    n_bytes = int(length)
    if size is None:
        return LinkResult(name, True, f"{n_bytes:,} bytes; the manifests state no size to compare", n_bytes)
    if size.exact and n_bytes != size.bytes:
        return LinkResult(name, False, f"Content-Length {n_bytes:,}, the size manifest says {size.bytes:,} bytes")
    if not size.exact and size_disagrees(size, n_bytes):
        return LinkResult(name, False, f"Content-Length {n_bytes:,} ({human_size(n_bytes)}), "
                                       f"the size manifest says {size.text}")
    return LinkResult(name, True, f"{n_bytes:,} bytes" + ("" if size.exact else f", {size.text} in the manifest"),
                      n_bytes)


def recorded_sizes(results: list[LinkResult], known: dict[str, int]) -> list[tuple[str, int]]:
    """The exact sizes to record, in the order of `results`: the size the server stated for each
    link that passed, else the exact size already `known` for it (a failing link changes nothing).

    Example: recorded_sizes([LinkResult("a.h5", True, "", 12), LinkResult("b.h5", False, "")],
             {"b.h5": 7}) == [("a.h5", 12), ("b.h5", 7)]
    """
    sizes = ((r.name, r.n_bytes if r.ok and r.n_bytes is not None else known.get(r.name)) for r in results)
    return [(name, n_bytes) for name, n_bytes in sizes if n_bytes is not None]


def answer(session: requests.Session, url: str, timeout: float) -> tuple[int, str, str | None]:
    """Status, reason and Content-Length of a HEAD request, following redirects."""
    with session.head(url, allow_redirects=True, timeout=timeout) as response:
        if response.status_code not in (405, 501):
            return response.status_code, response.reason, response.headers.get("Content-Length")
    with session.get(url, stream=True, timeout=timeout, headers={"Accept-Encoding": "identity"}) as response:
        return response.status_code, response.reason, response.headers.get("Content-Length")


def check_link(session: requests.Session, name: str, url: str | None, size: Size | None,
               timeout: float) -> LinkResult:
    if url is None:
        return LinkResult(name, False, "no URL in the URL manifest")
    try:
        status, reason, length = answer(session, url, timeout)
    except requests.RequestException as exc:
        return LinkResult(name, False, f"{url}: no answer ({exc})")
    return judge(name, status, reason, length, size)


def check_links(release_path: Path, data: Path, timeout: float, jobs: int,
                out: TextIO = sys.stdout, record: bool = False) -> int:
    """Checks the link of every published bundle, prints a line per link and a summary; returns
    the exit status (0 only when every link answers with the stated size). With `record`, the
    sizes the servers state for the links that pass are written into DATA's exact size manifest
    (dataset-files-bytes.txt), beside the exact sizes it already held for the others."""
    manifests = read_manifest_set(data)
    names = [bundle.name for bundle in read_release(release_path).published()]

    def one(name: str) -> LinkResult:
        url, size = manifests.urls.get(name), manifests.size_of(name)
        return check_link(session, name, url.value if url else None, size.value if size else None, timeout)

    with requests.Session() as session, ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        results = list(pool.map(one, names))
    for result in results:
        print(result.line, file=out)
    failed = sum(not r.ok for r in results)
    print(f"{len(results)} links: {len(results) - failed} OK, {failed} FAILED", file=out)
    if record:
        exact = manifests.exact_sizes
        known = {name: entry.value.bytes for name in (exact.names() if exact else [])
                 if (entry := exact.get(name)) is not None and entry.value.exact} if exact else {}
        sizes = recorded_sizes(results, known)
        if sizes:
            atomic_write_text(Path(data) / BYTES_FILE, size_lines(sizes, exact=True))
        print(f"recorded {len(sizes)} exact sizes in {Path(data) / BYTES_FILE}" if sizes
              else "no exact size to record: no link passed", file=out)
    return 1 if failed else 0
