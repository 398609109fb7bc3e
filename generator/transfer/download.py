"""Resumable, verified downloads of the bundles the manifests list (SPEC §7).

A bundle is written to `<name>.part`; an interrupted transfer resumes from the
partial file with an HTTP Range request (and starts over when the server ignores
Range); transient failures are retried with exponential backoff. The file gets its
final name only when its size (when the manifests know it exactly) and its md5
match. What can be refused is refused before anything is written: a name that would
land outside the target folder, a URL that is not http(s), an HTML page served
where a bundle is expected.
"""
from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Callable, Iterable, Iterator

import requests
import urllib3

from generator.errors import InputError, Origin, Problem, ProjectError
from generator.manifests.model import Entry, ManifestSet, is_http_url
from generator.transfer.verify import Check, Status, check_file, check_for

CHUNK_BYTES = 1024 * 1024
HEAD_BYTES = 512
PART_SUFFIX = ".part"
# Bundles are HDF5 or TSV; an HTML page in their place is a server's error page.
BUNDLE_SUFFIXES = (".h5", ".hdf5", ".tsv")
_HTML_START = re.compile(rb"^\s*<(!doctype\s+html|html)", re.IGNORECASE)
_WINDOWS_DRIVE = re.compile(r"^[A-Za-z]:")


class DownloadError(ProjectError):
    """A download that failed for good (after any retries); nothing is left under the final name."""


class _Transient(Exception):
    """A failure that another attempt may not meet: a dropped connection, a timeout, a 5xx answer."""


@dataclass(frozen=True)
class Target:
    """A bundle to fetch: its URL and the check its file must pass."""

    url: str
    check: Check

    @property
    def name(self) -> str:
        return self.check.name

    @property
    def path(self) -> Path:
        return self.check.path

    @property
    def part(self) -> Path:
        return self.path.with_name(self.name + PART_SUFFIX)


@dataclass(frozen=True)
class RetryPolicy:
    """`attempts` tries in all; the n-th retry waits `first_delay * 2**(n-1)` seconds."""

    attempts: int = 5
    first_delay: float = 1.0
    timeout: float = 60.0

    def delay(self, retry: int) -> float:
        return self.first_delay * 2 ** retry


def plan_downloads(names: Iterable[str], manifests: ManifestSet, folder: Path,
                   mirror: str | None = None) -> list[Target]:
    """The targets for `names`; every name that cannot be fetched safely and verified is an error."""
    folder = Path(folder)
    if mirror is not None:
        _require_http(mirror, "MIRROR")
    targets, problems = [], []
    for name in names:
        url_entry, md5_entry = manifests.urls.get(name), manifests.md5s.get(name)
        if url_entry is None:
            problems.append(Problem(Origin(manifests.urls.path), f"'{name}' has no URL in this manifest"))
        if md5_entry is None:
            problems.append(Problem(Origin(manifests.md5s.path),
                                    f"'{name}' has no md5 in this manifest, so a download could not be verified"))
        unsafe = [entry for entry in (url_entry, md5_entry) if entry and _escapes(entry.written_name)]
        problems.extend(Problem(entry.origin, f"'{entry.written_name}' would be written outside the target "
                                              f"folder; refusing it") for entry in unsafe)
        if url_entry is None or md5_entry is None or unsafe:
            continue
        check = check_for(name, manifests, folder)
        if check.path.resolve().parent != folder.resolve():  # a symbolic link pointing elsewhere
            problems.append(Problem(url_entry.origin, f"'{check.path}' leads outside {folder}; refusing it"))
            continue
        targets.append(Target(_mirrored(url_entry, mirror), check))
    if problems:
        raise InputError(problems)
    return targets


def _escapes(written_name: str) -> bool:
    """Whether a name as written is absolute or climbs out of its folder (`..`)."""
    posix = written_name.replace("\\", "/")
    return posix.startswith("/") or bool(_WINDOWS_DRIVE.match(posix)) or ".." in PurePosixPath(posix).parts


def _require_http(url: str, what: str) -> None:
    if not is_http_url(url):
        raise DownloadError(f"{what} '{url}' is not an http(s) URL; only http and https downloads are accepted")


def _mirrored(entry: Entry[str], mirror: str | None) -> str:
    """The URL with everything before the file name replaced by `mirror`."""
    if mirror is None:
        return entry.value
    return f"{mirror.rstrip('/')}/{entry.value.rsplit('/', 1)[-1]}"


def download(target: Target, session: requests.Session, policy: RetryPolicy = RetryPolicy(),
             on_position: Callable[[int, int | None], None] | None = None,
             sleep: Callable[[float], None] = time.sleep) -> None:
    """Fetches `target` into its `.part` file, verifies it, and only then gives it its final name.

    `on_position(done, total)` is told how many bytes the partial file holds as it grows, and the
    file's size when the manifests or the server tell it.
    """
    last_failure = None
    for attempt in range(policy.attempts):
        if attempt:
            sleep(policy.delay(attempt - 1))
        try:
            _fetch(target, session, policy.timeout, on_position)
            break
        except _Transient as exc:
            last_failure = exc
    else:
        kept = (f"; the {target.part.stat().st_size} bytes received are kept in {target.part} and the "
                f"next run resumes from there" if target.part.exists() else "")
        raise DownloadError(f"{target.url}: gave up after {policy.attempts} attempts ({last_failure}){kept}")
    _accept(target)


def _fetch(target: Target, session: requests.Session, timeout: float,
           on_position: Callable[[int, int | None], None] | None) -> None:
    """One attempt: fills the `.part` file up to the end of the body (resuming it when possible)."""
    offset = target.part.stat().st_size if target.part.exists() else 0
    size = target.check.size
    if size is not None and offset > size:
        target.part.unlink()  # longer than the file: it cannot be a prefix of it
        offset = 0
    if size is not None and 0 < offset == size:
        return
    # Identity encoding: byte offsets must be offsets in the file, not in a compressed stream.
    headers = {"Accept-Encoding": "identity", **({"Range": f"bytes={offset}-"} if offset else {})}
    try:
        response = session.get(target.url, headers=headers, stream=True, timeout=timeout)
    except requests.RequestException as exc:
        raise _Transient(f"no answer: {exc}") from None
    with response:
        if response.status_code == 416 and offset:
            return  # the partial file already holds the whole body; the checks decide
        if response.status_code in (408, 429) or response.status_code >= 500:
            raise _Transient(f"HTTP {response.status_code} {response.reason}")
        if response.status_code not in (200, 206):
            raise DownloadError(f"{target.url}: HTTP {response.status_code} {response.reason}")
        content_type = response.headers.get("Content-Type", "")
        if content_type.split(";")[0].strip().lower() == "text/html":
            raise DownloadError(f"{target.url}: the server sent an HTML page (Content-Type {content_type}) "
                                f"instead of {target.name}; nothing was written")
        resumed = response.status_code == 206
        if resumed and _range_start(response.headers.get("Content-Range", "")) != offset:
            target.part.unlink()
            raise _Transient(f"the server answered the range request from another offset "
                             f"({response.headers.get('Content-Range')}); starting over")
        chunks = _body(response)
        try:
            first = _head(chunks)
            if not resumed and target.name.lower().endswith(BUNDLE_SUFFIXES) and _HTML_START.match(first):
                raise DownloadError(f"{target.url}: the server sent an HTML page instead of {target.name}; "
                                    f"nothing was written")
            position = offset if resumed else 0
            total = size if size is not None else _announced_size(response, position)
            with open(target.part, "ab" if resumed else "wb") as out:
                for chunk in _chain(first, chunks):
                    out.write(chunk)
                    position += len(chunk)
                    if on_position:
                        on_position(position, total)
        except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
            raise _Transient(f"connection lost: {exc}") from None
        except OSError as exc:
            raise DownloadError(f"{target.part}: cannot be written ({exc.strerror})") from None
    if size is not None and position < size:
        raise _Transient(f"the body ended after {position} of {size} bytes")


def _body(response: requests.Response) -> Iterator[bytes]:
    """The body as it arrives: every byte received before a connection breaks reaches the file."""
    while chunk := response.raw.read1(CHUNK_BYTES):
        yield chunk


def _head(chunks: Iterator[bytes]) -> bytes:
    """The first bytes of the body, enough to recognise an HTML page."""
    head = b""
    for chunk in chunks:
        head += chunk
        if len(head) >= HEAD_BYTES:
            break
    return head


def _chain(first: bytes, rest):
    if first:
        yield first
    yield from rest


def _announced_size(response: requests.Response, start: int) -> int | None:
    length = response.headers.get("Content-Length", "")
    return start + int(length) if length.isdigit() else None


def _range_start(content_range: str) -> int | None:
    match = re.match(r"^\s*bytes\s+(\d+)-", content_range)
    return int(match.group(1)) if match else None


def _accept(target: Target) -> None:
    """Verifies the `.part` file; renames it to the final name, or removes it when it is wrong."""
    result = check_file(replace(target.check, path=target.part))
    if result.status is not Status.OK:
        # A wrong partial file would stay wrong if resumed; the next run starts over.
        target.part.unlink(missing_ok=True)
        raise DownloadError(f"{target.url}: the download does not match the manifests ({result.reason}); "
                            f"it was removed and {target.name} was not written (the next run starts over)")
    try:
        os.replace(target.part, target.path)
    except OSError as exc:
        raise DownloadError(f"{target.path}: cannot be replaced ({exc.strerror}); the verified download "
                            f"is kept as {target.part}") from None
