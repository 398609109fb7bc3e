"""Checking files in a folder against the manifests: size first, then md5, several files at once.

`plan_checks` decides what to check from the manifests and what is on disk;
`check_file` checks one file (its size when the manifests know the exact bytes,
then its md5, from the digest cache when the file is unchanged); `run_checks`
runs the checks on a thread pool (hashlib releases the GIL while hashing large
buffers, so threads hash files in parallel).
"""
from __future__ import annotations

import os
import stat
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Callable, Iterable, Iterator

from generator.errors import Origin
from generator.manifests.model import ManifestSet
from generator.io.checksums import file_md5
from generator.io.stamps import FileStamp, settled
from generator.transfer.digest_cache import DigestCache


class Status(Enum):
    """The verdict on one file, worded as `md5sum -c` words it."""

    OK = "OK"
    FAILED = "FAILED"
    UNREADABLE = "FAILED open or read"


@dataclass(frozen=True)
class Check:
    """One file to check: where it is and what the manifests say it must be."""

    name: str
    path: Path
    md5: str
    md5_origin: Origin
    size: int | None = None
    size_origin: Origin | None = None


@dataclass(frozen=True)
class Plan:
    checks: tuple[Check, ...]
    missing: tuple[str, ...]


@dataclass(frozen=True)
class Result:
    check: Check
    status: Status
    reason: str | None = None
    hashed_bytes: int = 0
    from_cache: bool = False
    md5: str | None = None

    @property
    def line(self) -> str:
        return f"{self.check.name}: {self.status.value}"


def plan_checks(manifests: ManifestSet, folder: Path) -> Plan:
    """A check for each md5 entry whose file is in `folder` (by basename); the others are missing."""
    checks, missing = [], []
    for name in manifests.md5s.names():
        if os.path.lexists(Path(folder) / name):
            checks.append(check_for(name, manifests, folder))
        else:
            missing.append(name)
    return Plan(tuple(checks), tuple(missing))


def check_for(name: str, manifests: ManifestSet, folder: Path) -> Check:
    """What `folder/name` must be: the md5 of the manifest and, when a manifest knows it, the exact size."""
    md5_entry = manifests.md5s.get(name)
    if md5_entry is None:
        raise ValueError(f"'{name}' is not in the md5 manifest")
    size_entry = manifests.size_of(name)
    exact = size_entry if size_entry and size_entry.value.exact else None
    return Check(name, Path(folder) / name, md5_entry.value, md5_entry.origin,
                 exact.value.bytes if exact else None, exact.origin if exact else None)


def check_file(check: Check, cache: DigestCache | None = None,
               on_bytes: Callable[[int], None] | None = None) -> Result:
    """Size first (a truncated file or a saved error page fails without being read), then md5."""
    started_ns = time.time_ns()
    try:
        status = os.stat(check.path)
    except OSError as exc:
        return Result(check, Status.UNREADABLE, exc.strerror)
    if not stat.S_ISREG(status.st_mode):
        return Result(check, Status.UNREADABLE, "not a regular file")
    if check.size is not None and status.st_size != check.size:
        return judge(check, status.st_size, "")  # a file of the wrong size is not read
    stamp = FileStamp.of(check.path, status)
    digest = cache.get(stamp) if cache else None
    from_cache, hashed = digest is not None, 0
    if digest is None:
        def count(n: int) -> None:
            nonlocal hashed
            hashed += n
            if on_bytes:
                on_bytes(n)
        try:
            digest = file_md5(check.path, count)
        except OSError as exc:
            return Result(check, Status.UNREADABLE, exc.strerror, hashed)
        if cache and settled(stamp, started_ns):
            cache.put(stamp, digest)
    return judge(check, status.st_size, digest, hashed, from_cache)


def judge(check: Check, size: int, digest: str, hashed: int = 0, from_cache: bool = False) -> Result:
    """The verdict on a file of `size` bytes whose md5 is `digest`, however that digest was
    found (read from disk, the cache, or hashed as the bytes arrived): size first, then md5.

    Example: judge(check, 400_000, hashlib.md5(body).hexdigest()).status is Status.OK.
    """
    if check.size is not None and size != check.size:
        return Result(check, Status.FAILED, f"size is {size} bytes, {check.size_origin} says {check.size}",
                      hashed, from_cache)
    if digest != check.md5:
        return Result(check, Status.FAILED, f"md5 is {digest}, {check.md5_origin} says {check.md5}",
                      hashed, from_cache, digest)
    return Result(check, Status.OK, None, hashed, from_cache, digest)


def run_checks(checks: Iterable[Check], jobs: int, cache: DigestCache | None = None,
               on_bytes: Callable[[int], None] | None = None) -> Iterator[Result]:
    """Results in the order they finish; `on_bytes` may be called from several threads at once.

    Closing the iterator early (Ctrl-C, an error) cancels the checks not started and stops
    those under way at their next block, instead of hashing on for minutes.
    """
    checks = sorted(checks, key=_size_on_disk, reverse=True)  # largest first: the pool ends together
    stopped = threading.Event()

    def progress(n: int) -> None:
        if stopped.is_set():
            raise _Stopped
        if on_bytes:
            on_bytes(n)

    pool = ThreadPoolExecutor(max_workers=max(1, jobs))
    try:
        futures = [pool.submit(check_file, check, cache, progress) for check in checks]
        for future in as_completed(futures):
            yield future.result()
    finally:
        stopped.set()
        pool.shutdown(wait=True, cancel_futures=True)


class _Stopped(Exception):
    """Raised in a hashing thread when its results are no longer wanted."""


def _size_on_disk(check: Check) -> int:
    try:
        return os.stat(check.path).st_size
    except OSError:
        return 0


def bytes_to_hash(checks: Iterable[Check], cache: DigestCache | None = None) -> int:
    """How many bytes `run_checks` will read: the files of the right size that the cache does not know."""
    total = 0
    for check in checks:
        try:
            status = os.stat(check.path)
        except OSError:
            continue
        right_size = check.size is None or status.st_size == check.size
        if stat.S_ISREG(status.st_mode) and right_size and not (cache and cache.get(FileStamp.of(check.path, status))):
            total += status.st_size
    return total


def passed(results: Iterable[Result], missing: tuple[str, ...], require_all: bool) -> bool:
    """Exit status 0 is earned only when every checked file is OK (and none is missing, if required)."""
    return all(r.status is Status.OK for r in results) and not (require_all and missing)


def summary(results: list[Result], missing: tuple[str, ...]) -> str:
    ok = sum(r.status is Status.OK for r in results)
    failed = len(results) - ok
    hashed = sum(r.hashed_bytes for r in results)
    cached = sum(r.from_cache for r in results)
    return (f"{ok} OK, {failed} FAILED, {len(missing)} missing; "
            f"{hashed:,} bytes hashed, {cached} from cache")
