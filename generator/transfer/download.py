"""Resumable, verified downloads of the bundles the manifests list (docs/design/index.md#participant-tools).

A bundle is written to `<name>.part` while its process holds `<name>.lock` (fcntl.flock): a
second process asked for the same file in the same folder stops at once with a message
instead of writing into the same partial file. An interrupted transfer resumes from the
partial file with an HTTP Range request (and starts over when the server ignores Range);
transient failures are retried with exponential backoff. The body is measured against the
size the manifests or the server state: bytes beyond it stop the transfer at once, a body
that ends short of it is kept to be resumed. The md5 is computed as the bytes arrive (a resumed
transfer first hashes the partial file it continues), so the file is never read again once its
last byte is written; it gets its final name only when its size (when known exactly) and that
running md5 match (docs/design/performance.md#downloads). Refused before anything is written: a name that
would land outside the target folder, a URL that is not http(s), an HTML page served where a
bundle is expected, and a symbolic link at the file's name, partial file or lock (each is
also opened with O_NOFOLLOW, so a link put there later is refused too).
"""
from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import re
import stat
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Callable, Iterable, Iterator, Mapping, Self

import requests
import urllib3

from generator.errors import InputError, Origin, Problem, ProjectError
from generator.io.checksums import hash_file
from generator.manifests.model import MAX_FILE_BYTES, Entry, ManifestSet, Size, is_http_url
from generator.transfer.policy import RetryPolicy
from generator.transfer.verify import Check, Status, check_for, judge

DEFAULT_POLICY = RetryPolicy()
CHUNK_BYTES = 1024 * 1024
HASH_BACKLOG = 16  # chunks received but not yet hashed, at most
HEAD_BYTES = 512
PART_SUFFIX = ".part"
LOCK_SUFFIX = ".lock"
# Bundles are HDF5 or TSV; an HTML page in their place is a server's error page.
BUNDLE_SUFFIXES = (".h5", ".hdf5", ".tsv")
_HTML_START = re.compile(rb"^\s*<(!doctype\s+html|html)", re.IGNORECASE)
_WINDOWS_DRIVE = re.compile(r"^[A-Za-z]:")
# Byte counts in headers: ASCII digits only (int() would also take "²" or "١"), and few enough
# that a header of thousands of digits is ignored rather than converted.
_BYTE_COUNT = re.compile(r"[0-9]{1,19}")
_CONTENT_RANGE = re.compile(r"bytes\s+([0-9]{1,19})-([0-9]{1,19})/([0-9]{1,19}|\*)", re.IGNORECASE)


class DownloadError(ProjectError):
    """A download that failed for good (after any retries); nothing is left under the final name."""


class _Transient(Exception):
    """A failure that another attempt may not meet: a dropped connection, a timeout, a 5xx answer."""


class _StartOver(_Transient):
    """An answer that makes the partial file useless: it is removed before the next attempt."""


@dataclass(frozen=True)
class Target:
    """A bundle to fetch: its URL, the check its file must pass and the size the manifests state."""

    url: str
    check: Check
    stated: Entry[Size] | None = None

    @property
    def name(self) -> str:
        return self.check.name

    @property
    def path(self) -> Path:
        return self.check.path

    @property
    def part(self) -> Path:
        return self.path.with_name(self.name + PART_SUFFIX)

    @property
    def lock(self) -> Path:
        return self.path.with_name(self.name + LOCK_SUFFIX)


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
        target = Target(_mirrored(url_entry, mirror), check_for(name, manifests, folder), manifests.size_of(name))
        try:
            links = [path for path in (target.path, target.part, target.lock) if path.is_symlink()]
        except OSError as exc:  # a name too long for the file system once '.part' is added, say
            problems.append(Problem(url_entry.origin, f"'{name}' cannot be stored in {folder}: {exc.strerror} "
                                                      f"(its partial file is {name}{PART_SUFFIX})"))
            continue
        if links:
            problems.append(Problem(Origin(str(links[0])), "is a symbolic link; refusing to download through it"))
            continue
        unusable = _unusable(target.url)
        if unusable:
            problems.append(Problem(url_entry.origin, f"'{target.url}' cannot be requested: {unusable}"))
            continue
        targets.append(target)
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
    unusable = _unusable(url)
    if unusable:
        raise DownloadError(f"{what} '{url}' cannot be requested: {unusable}")


def _unusable(url: str) -> str | None:
    """Why requests would refuse `url` (a host name it cannot encode, say), or None: asked before
    anything is fetched, so that such a URL is one clear error, not five retries."""
    try:
        requests.Request("GET", url).prepare()
    except requests.RequestException as exc:
        return str(exc)
    return None


def _mirrored(entry: Entry[str], mirror: str | None) -> str:
    """The URL with everything before the file name replaced by `mirror`."""
    if mirror is None:
        return entry.value
    return f"{mirror.rstrip('/')}/{entry.value.rsplit('/', 1)[-1]}"


# --- one process per file: the lock -------------------------------------------------------

@contextmanager
def claim(target: Target) -> Iterator[None]:
    """Holds `NAME.lock` beside the partial file while the file is checked, fetched and renamed.

    Non-blocking: a second process asked for the same file in the same folder stops at once
    with a message (waiting could mean hours behind a 147 GB transfer). The lock file is removed
    by its holder; a process that opened it just before that finds it gone once it gets the
    lock, and takes the lock anew.
    """
    while True:
        descriptor = _open_file(target.lock, os.O_RDWR | os.O_CREAT)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(descriptor)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise DownloadError(f"{target.path}: another process is downloading this file (it holds "
                                    f"{target.lock}); run again once it has finished") from None
            raise DownloadError(f"{target.lock}: cannot be locked ({exc.strerror})") from None
        if _same_file(descriptor, target.lock):
            break
        os.close(descriptor)
    try:
        yield
    finally:
        target.lock.unlink(missing_ok=True)
        os.close(descriptor)


def _same_file(descriptor: int, path: Path) -> bool:
    try:
        named = os.lstat(path)
    except FileNotFoundError:
        return False
    opened = os.fstat(descriptor)
    return (named.st_dev, named.st_ino) == (opened.st_dev, opened.st_ino)


def _open_file(path: Path, flags: int) -> int:
    """A descriptor of the regular file `path`, never opened through a symbolic link (a link put
    at a name in the folder would send the bytes anywhere on the machine). O_NONBLOCK: a FIFO
    put there must not block the open; on a regular file the flag changes nothing."""
    try:
        descriptor = os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK, 0o666)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            _require_regular(path, stat.S_IFLNK)
        raise DownloadError(f"{path}: cannot be written ({exc.strerror})") from None
    try:
        _require_regular(path, os.fstat(descriptor).st_mode)
    except DownloadError:
        os.close(descriptor)
        raise
    return descriptor


def _require_regular(path: Path, mode: int) -> None:
    if stat.S_ISLNK(mode):
        raise DownloadError(f"{path}: is a symbolic link; refusing to write through it")
    if not stat.S_ISREG(mode):
        raise DownloadError(f"{path}: is not a regular file; refusing to write to it")


# --- the transfer -------------------------------------------------------------------------

class RunningMd5:
    """The md5 of the first `covered` bytes of a partial file, kept up to date as bytes are
    appended; `read_back` counts the bytes it had to read from the file itself (a partial
    file left by an earlier run), the only bytes a download reads from disk.

    Appended bytes are hashed on a thread of their own (hashlib releases the GIL), so that
    hashing overlaps receiving and writing instead of adding to them; at most HASH_BACKLOG
    chunks wait. Use it as a context manager: the thread ends with the block.
    """

    def __init__(self) -> None:
        self.digest = hashlib.md5()
        self.covered = 0
        self.read_back = 0
        self._hasher = ThreadPoolExecutor(1, thread_name_prefix="md5")
        self._waiting: deque[Future[None]] = deque()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self._hasher.shutdown(wait=True, cancel_futures=True)

    def restart(self) -> None:
        """The partial file is started over: nothing of it is hashed."""
        self._drain()
        self.digest, self.covered = hashlib.md5(), 0

    def catch_up(self, part: Path, size: int) -> None:
        """Hashes what the partial file holds beyond `covered`, up to `size` bytes (from the
        start when it is now shorter than what was hashed)."""
        self._drain()
        if size < self.covered:
            self.restart()
        if size > self.covered:
            read = hash_file(self.digest, part, self.covered, stop=size)
            self.covered += read
            self.read_back += read

    def add(self, chunk: bytes) -> None:
        self._waiting.append(self._hasher.submit(self.digest.update, chunk))
        self.covered += len(chunk)
        if len(self._waiting) > HASH_BACKLOG:
            self._waiting.popleft().result()

    def hexdigest(self) -> str:
        self._drain()
        return self.digest.hexdigest()

    def _drain(self) -> None:
        while self._waiting:
            self._waiting.popleft().result()


def download(target: Target, session: requests.Session, policy: RetryPolicy = DEFAULT_POLICY,
             on_position: Callable[[int, int | None], None] | None = None,
             sleep: Callable[[float], None] = time.sleep) -> int:
    """Fetches `target` into its `.part` file, verifies it, and only then gives it its final name.
    Run it inside `claim(target)`. Returns the bytes read back from disk: 0 for a fresh
    download, the partial file's length for a resumed one (hashed before the transfer goes on).

    `on_position(done, total)` is told how many bytes the partial file holds as it grows, and the
    file's size when the manifests or the server tell it.
    """
    last_failure = None
    with RunningMd5() as running:
        for attempt in range(policy.attempts):
            if attempt:
                sleep(policy.delay(attempt - 1))
            try:
                _fetch(target, session, policy.timeout, on_position, running)
                break
            except _Transient as exc:
                last_failure = exc
        else:
            held = _partial_bytes(target.part)
            kept = (f"; the {held} bytes received are kept in {target.part} and the next run resumes from there"
                    if held else "")
            raise DownloadError(f"{target.url}: gave up after {policy.attempts} attempts ({last_failure}){kept}")
        _accept(target, running)
        return running.read_back


@dataclass(frozen=True)
class Answer:
    """What a response's status and headers say: where its body starts in the file, and the
    file's whole size when the server states it."""

    start: int
    total: int | None


def read_answer(target: Target, status: int, reason: str, headers: Mapping[str, str], offset: int) -> Answer | None:
    """The meaning of the answer to a request for the file from byte `offset` on; None when the
    partial file already holds every byte (416). Raises `_Transient` for an answer worth another
    attempt and DownloadError for one that is not. Header values that are not plain byte counts
    are ignored, as urllib3 ignores them when it reads the body."""
    if status == 416 and offset:
        return None
    if status in (408, 429) or status >= 500:
        raise _Transient(f"HTTP {status} {reason}")
    if status not in (200, 206):
        raise DownloadError(f"{target.url}: HTTP {status} {reason}")
    content_type = headers.get("Content-Type", "")
    if content_type.split(";")[0].strip().lower() == "text/html":
        raise DownloadError(f"{target.url}: the server sent an HTML page (Content-Type {content_type}) "
                            f"instead of {target.name}; nothing was written")
    length = _byte_count(headers.get("Content-Length", ""))
    if status == 200:
        return Answer(0, length)
    content_range = headers.get("Content-Range", "")
    first, total = _content_range(content_range)
    if first != offset:
        raise _StartOver(f"the server answered the range request with another range ({content_range}); "
                         "starting over")
    if total is None and length is not None and offset + length <= MAX_FILE_BYTES:
        total = offset + length
    return Answer(offset, total)


def _byte_count(text: str) -> int | None:
    text = text.strip()
    return int(text) if _BYTE_COUNT.fullmatch(text) and int(text) <= MAX_FILE_BYTES else None


def _content_range(text: str) -> tuple[int | None, int | None]:
    """(first byte, whole size or None) of a well-formed `bytes FIRST-LAST/SIZE`; (None, None) otherwise."""
    match = _CONTENT_RANGE.fullmatch(text.strip())
    if not match:
        return None, None
    first, last, total = (_byte_count(group) for group in match.groups())
    if first is None or last is None or last < first or (total is not None and total <= last) \
            or (total is None and match[3] != "*"):
        return None, None
    return first, total


@dataclass(frozen=True)
class _Extent:
    """How many bytes the file holds (`least` to `most`; None: unknown), who says so, and the
    size a progress bar shows."""

    least: int | None = None
    most: int | None = None
    said_by: str = "nobody states its size"
    shown: int | None = None


def _extent(target: Target, answer: Answer) -> _Extent:
    """The manifests' exact size, else the size the server states (refused when the manifests'
    approximate size rules it out), else the bounds of the approximate size."""
    stated = target.stated
    if stated is not None and answer.total is not None and not stated.value.admits(answer.total):
        raise DownloadError(f"{target.url}: the server's file has {answer.total:,} bytes but {stated.origin} "
                            f"says {stated.value.text}; nothing was written")
    if stated is not None and stated.value.exact:
        size = stated.value.bytes
        return _Extent(size, size, f"{stated.origin} says {size:,} bytes", size)
    if answer.total is not None:
        return _Extent(answer.total, answer.total, f"the server says {answer.total:,} bytes", answer.total)
    if stated is not None:
        return _Extent(stated.value.least, stated.value.most, f"{stated.origin} says about {stated.value.text}",
                       stated.value.bytes)
    return _Extent()


def _fetch(target: Target, session: requests.Session, timeout: float,
           on_position: Callable[[int, int | None], None] | None, running: RunningMd5) -> None:
    """One attempt: fills the `.part` file up to the end of the body (resuming it when possible),
    keeping `running` the md5 of what it holds."""
    offset = _partial_bytes(target.part)
    stated = target.stated.value if target.stated else None
    if stated is not None and offset > stated.most:
        target.part.unlink()  # longer than the file: it cannot be a prefix of it
        offset = 0
    if stated is not None and stated.exact and 0 < offset == stated.bytes:
        running.catch_up(target.part, offset)
        return
    # Identity encoding: byte offsets must be offsets in the file, not in a compressed stream.
    headers = {"Accept-Encoding": "identity", **({"Range": f"bytes={offset}-"} if offset else {})}
    try:
        response = session.get(target.url, headers=headers, stream=True, timeout=timeout)
    except requests.exceptions.InvalidHeader as exc:  # e.g. two different Content-Length headers
        raise DownloadError(f"{target.url}: the server's answer cannot be read ({exc})") from None
    except requests.RequestException as exc:
        raise _Transient(f"no answer: {exc}") from None
    with response:
        try:
            answer = read_answer(target, response.status_code, response.reason, response.headers, offset)
        except _StartOver:
            target.part.unlink(missing_ok=True)
            raise
        if answer is None:
            running.catch_up(target.part, offset)
            return  # the partial file already holds the whole body; the checks decide
        chunks = _body(response)
        try:
            first = _head(chunks)
            if answer.start == 0 and target.name.lower().endswith(BUNDLE_SUFFIXES) and _HTML_START.match(first):
                raise DownloadError(f"{target.url}: the server sent an HTML page instead of {target.name}; "
                                    f"nothing was written")
            extent = _extent(target, answer)
            if answer.start:
                running.catch_up(target.part, answer.start)
            else:
                running.restart()
            position = _write(target, answer.start, extent, _chain(first, chunks), on_position, running)
        except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
            raise _Transient(f"connection lost: {exc}") from None
        except OSError as exc:  # after the clause above: requests' errors are OSErrors too
            raise DownloadError(f"{target.part}: cannot be written ({exc.strerror})") from None
    if extent.least is not None and position < extent.least:
        # Without a Content-Length, a dropped connection looks like the end of the body: only the
        # size says otherwise, and the bytes received are kept to be resumed.
        raise _Transient(f"the body ended after {position:,} bytes, short of the file ({extent.said_by})")


def _write(target: Target, start: int, extent: _Extent, chunks: Iterable[bytes],
           on_position: Callable[[int, int | None], None] | None, running: RunningMd5) -> int:
    """Writes the body into the partial file from byte `start` (0: the file is started over),
    hashing each chunk as it is written; returns the partial file's size. A body running past the
    most the file can hold is cut off at once, not written in full, and the partial file removed."""
    position = start
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if start else os.O_TRUNC)
    with os.fdopen(_open_file(target.part, flags), "ab") as out:
        for chunk in chunks:
            if extent.most is not None and position + len(chunk) > extent.most:
                break
            out.write(chunk)
            running.add(chunk)
            position += len(chunk)
            if on_position:
                on_position(position, extent.shown)
        else:
            return position
    target.part.unlink(missing_ok=True)
    raise DownloadError(f"{target.url}: the server sent more than the {extent.most:,} bytes {target.name} can hold "
                        f"({extent.said_by}); the transfer was stopped and the partial file removed")


def _partial_bytes(part: Path) -> int:
    """How many bytes the partial file holds (0 when there is none); anything there but a
    regular file, a symbolic link above all, is refused."""
    try:
        status = os.lstat(part)
    except FileNotFoundError:
        return 0
    except OSError as exc:
        raise DownloadError(f"{part}: cannot be read ({exc.strerror})") from None
    _require_regular(part, status.st_mode)
    return status.st_size


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


def _chain(first: bytes, rest: Iterable[bytes]) -> Iterator[bytes]:
    if first:
        yield first
    yield from rest


def _accept(target: Target, running: RunningMd5) -> None:
    """Verifies the `.part` file by its size and running md5, without reading it; renames it to
    the final name, or removes it when it is wrong."""
    size = _partial_bytes(target.part)
    running.catch_up(target.part, size)  # a no-op unless the file changed behind the transfer's back
    result = judge(replace(target.check, path=target.part), size, running.hexdigest())
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
