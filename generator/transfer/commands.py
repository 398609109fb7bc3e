"""The participants' two commands as they run in a terminal: which files, progress bars, one
line per file as `md5sum -c` prints them, a summary and the exit status (docs/design/index.md#participant-tools)."""
from __future__ import annotations

import os
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, Sequence

import requests
from tqdm import tqdm

from generator.errors import Problem, ProjectError
from generator.manifests.model import BYTES_FILE, FIRST_WINS, SIZES_FILE, Manifest, ManifestSet, judged_conflicts
from generator.manifests.read import read_manifest_set, read_md5s, read_sizes
from generator.release.model import Release
from generator.transfer.digest_cache import DigestCache
from generator.transfer.download import DownloadError, Target, claim, download, plan_downloads
from generator.transfer.policy import RetryPolicy
from generator.transfer.remote import is_url, load_index_manifests, load_remote_md5s
from generator.transfer.verify import (Status, bytes_to_hash, check_file, passed, plan_checks, run_checks,
                                       summary)


def _on_terminal() -> bool:
    return sys.stderr.isatty()


def _save(cache: DigestCache) -> None:
    """Remembered digests only save time: failing to store them is worth a warning, not a failed check."""
    try:
        cache.save()
    except OSError as exc:
        print(f"warning: digests not remembered: {cache.path}: {exc.strerror}", file=sys.stderr)


def _warn(problems: list[Problem]) -> None:
    for problem in problems:
        print(f"warning: {problem}; {FIRST_WINS}", file=sys.stderr)


def read_verify_manifests(md5_path: Path) -> ManifestSet:
    """The md5 manifest, with the size manifests of its folder when they are there."""
    if not md5_path.is_file():
        raise ProjectError(f"{md5_path}: manifest not found")
    sizes = {name: read_sizes(md5_path.parent / name) if (md5_path.parent / name).is_file() else None
             for name in (SIZES_FILE, BYTES_FILE)}
    return ManifestSet(urls=Manifest("url", ""),
                       sizes=sizes[SIZES_FILE] or Manifest("size", str(md5_path.parent / SIZES_FILE)),
                       md5s=read_md5s(md5_path), exact_sizes=sizes[BYTES_FILE])


def verify_manifests(source: str, index: bool) -> ManifestSet:
    """What `verify` checks against: an index (`datasets.json`, by URL or path), an md5 manifest by
    URL, or an md5 manifest file with the size manifests beside it."""
    if index:
        return load_index_manifests(source)
    return load_remote_md5s(source) if is_url(source) else read_verify_manifests(Path(source))


def verify_folder(folder: Path, manifest: Path | str, require_all: bool, jobs: int, cache: DigestCache | None,
                  index: bool = False, strict: bool = True) -> int:
    """Checks the files of `folder` against `manifest` (an index when `index`); prints a line per file
    and a summary; returns the exit status. A name listed twice with different values is an error
    when `strict`, else a warning (judged_conflicts)."""
    if not folder.is_dir():
        raise ProjectError(f"{folder}: no such folder")
    manifests = verify_manifests(str(manifest), index)
    _warn(judged_conflicts(manifests, manifests.md5s.names(), strict))
    plan = plan_checks(manifests, folder)
    if not plan.checks and not require_all:
        raise ProjectError(f"none of the {len(plan.missing)} files of {manifest} is in {folder}")
    results = []
    with tqdm(total=bytes_to_hash(plan.checks, cache), unit="B", unit_scale=True, unit_divisor=1024,
              desc="md5", disable=not _on_terminal(), file=sys.stderr) as bar:
        lock = threading.Lock()

        def advance(n: int) -> None:
            with lock:
                bar.update(n)
        try:
            for result in run_checks(plan.checks, jobs, cache, advance):
                results.append(result)
                if result.reason:
                    tqdm.write(f"{result.check.name}: {result.reason}", file=sys.stderr)
                tqdm.write(result.line, file=sys.stdout)
        finally:
            if cache:
                _save(cache)
    for name in plan.missing:
        print(f"{name}: MISSING")
    print(summary(results, plan.missing))
    if require_all and plan.missing:
        print(f"error: {len(plan.missing)} of the {len(plan.missing) + len(plan.checks)} files of {manifest} "
              f"{'is' if len(plan.missing) == 1 else 'are'} not in {folder}, and --require-all (REQUIRE_ALL=1) "
              "requires every one", file=sys.stderr)
    return 0 if passed(results, plan.missing, require_all) else 1


def release_names(release: Release, group: str | None, subset: str | None) -> list[str]:
    """The published bundles of a group (a kind of bundle) or of a subset (or a query set)."""
    return select_names(release.published(), group, subset, release.path)


class Published(Protocol):
    """A published bundle as the release or an index describes it."""

    @property
    def name(self) -> str: ...
    @property
    def group(self) -> str: ...
    @property
    def subset(self) -> str: ...
    @property
    def queries(self) -> str | None: ...


def select_names(published: Sequence[Published], group: str | None, subset: str | None, source: str) -> list[str]:
    """The names of the bundles (an edition's, or an index's) of a group, or what a task on a subset
    needs: the subset's files, its gold standards and the files of their query sets, in page order."""
    if group:
        names = [b.name for b in published if b.group == group]
        if not names:
            groups = list(dict.fromkeys(b.group for b in published))
            raise ProjectError(f"{source}: no published bundle in group '{group}' (groups: {', '.join(groups)})")
        return names
    queries = {b.queries for b in published if b.subset == subset and b.queries and b.queries != subset}
    names = [b.name for b in published if b.subset == subset or b.subset in queries]
    if not names:
        labels = list(dict.fromkeys(b.subset for b in published))
        raise ProjectError(f"{source}: no published bundle of subset '{subset}' (subsets: {', '.join(labels)})")
    return names


@dataclass(frozen=True)
class DownloadRequest:
    """What to download; `manifests`, when given (read from an index), replace those of `data`."""

    names: list[str]
    folder: Path
    data: Path
    mirror: str | None
    policy: RetryPolicy
    manifests: ManifestSet | None = None
    strict: bool = True


def download_files(request: DownloadRequest, cache: DigestCache) -> int:
    """Fetches and verifies each file, one after the other; returns the exit status."""
    manifests = request.manifests if request.manifests is not None else read_manifest_set(request.data)
    _warn(judged_conflicts(manifests, request.names, request.strict))
    targets = plan_downloads(request.names, manifests, request.folder, request.mirror)
    try:
        request.folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ProjectError(f"{request.folder}: cannot create the folder ({exc.strerror})") from None
    failures = 0
    with requests.Session() as session:
        for target in targets:
            try:
                _download_one(target, session, request.policy, cache)
            except DownloadError as exc:
                print(f"error: {exc}", file=sys.stderr)
                print(f"{target.name}: FAILED")
                failures += 1
            finally:
                _save(cache)
    print(f"{len(targets) - failures} of {len(targets)} files present and verified in {request.folder}")
    return 1 if failures else 0


def _download_one(target: Target, session: requests.Session, policy: RetryPolicy, cache: DigestCache) -> None:
    # The lock covers the look at a file already there too: another process may be renaming it.
    with claim(target):
        if os.path.lexists(target.path):
            present = check_file(target.check, cache)
            if present.status is Status.OK:
                print(f"{target.name}: OK (already present)")
                return
            print(f"{target.name}: present but {present.status.value} ({present.reason}); downloading it again",
                  file=sys.stderr)
        with tqdm(total=target.check.size, unit="B", unit_scale=True, unit_divisor=1024, desc=target.name,
                  disable=not _on_terminal(), file=sys.stderr) as bar:
            def show(done: int, total: int | None) -> None:
                bar.total = total
                bar.update(done - bar.n)
            download(target, session, policy, on_position=show)
    print(f"{target.name}: OK (downloaded from {target.url})")
