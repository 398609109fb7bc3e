"""`verify` and `download`: the participants' tools (SPEC §7), behind `make verify` and `make download`."""
from __future__ import annotations

import argparse
import os
import sys
import threading
from pathlib import Path

import requests
from tqdm import tqdm

from generator.errors import ProjectError
from generator.inputs.catalog import read_catalog
from generator.inputs.manifests import BYTES_FILE, MD5_FILE, SIZES_FILE, read_manifest_set, read_md5s, read_sizes
from generator.models.catalog import Catalog
from generator.models.manifests import Manifest, ManifestSet
from generator.work.digest_cache import DigestCache, default_cache_dir
from generator.work.download import DownloadError, RetryPolicy, download, plan_downloads
from generator.work.verify import (Status, bytes_to_hash, check_file, passed, plan_checks, run_checks,
                                   summary)

VERIFY_EXAMPLES = """\
examples:
  python -m generator verify downloads
  python -m generator verify downloads --manifest data/dataset-files-md5.txt --require-all
  python -m generator verify /data/laion --no-cache --jobs 4

Each file of the manifest found in DIR (by its base name) is checked: its size
first when a size manifest next to the md5 manifest (dataset-files-bytes.txt, or a
plain byte count in dataset-files-size.txt) knows the exact bytes, then its md5.
One line per file on standard output, as `md5sum -c` prints them ('name: OK',
'name: FAILED', 'name: FAILED open or read'), the reason of each failure on
standard error, a 'name: MISSING' line for each file of the manifest not in DIR,
then a summary. Digests of unchanged files (same path, size and
modification time) are remembered, so a second run does not read them again.
Exit status 0 only when every file checked is OK (and, with --require-all, none
is missing)."""

DOWNLOAD_EXAMPLES = """\
examples:
  python -m generator download laion2B-en-clip768v2-n=300K.h5 public-queries-10k-clip768v2.h5
  python -m generator download --group pca32 --dir /data/laion
  python -m generator download --subset 10M --mirror https://mirror.example.org/laion2b

Each file is written to DIR/NAME.part; an interrupted download resumes from it
(HTTP Range) and transient failures are retried. The file gets its final name only
when its size and md5 match the manifests; a file already present and verified is
skipped. Names that would land outside DIR, URLs that are not http(s) and HTML
pages served in place of a bundle are refused. Exit status 0 only when every file
is present and verified."""


def register(commands) -> None:
    verify = commands.add_parser(
        "verify", help="check files in a folder against the md5 manifest (size first, then md5)",
        description="Checks the files of DIR against an md5 manifest.", epilog=VERIFY_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    verify.add_argument("dir", metavar="DIR", type=Path, help="the folder holding the downloaded files")
    verify.add_argument("--manifest", type=Path, default=Path("data") / MD5_FILE,
                        help="md5 manifest in any format `md5sum -c` reads (default: %(default)s)")
    verify.add_argument("--require-all", action="store_true",
                        help="fail when a file of the manifest is missing from DIR")
    _add_cache_options(verify)
    verify.add_argument("--no-cache", action="store_true",
                        help="hash every file again, ignoring remembered digests")
    verify.add_argument("--jobs", type=int, default=min(4, os.cpu_count() or 1),
                        help="files hashed at the same time (default: %(default)s)")
    verify.set_defaults(run=run_verify)

    fetch = commands.add_parser(
        "download", help="resumable, verified download of bundles listed in the manifests",
        description="Downloads bundles named in the URL manifest, by name, catalog group or subset.",
        epilog=DOWNLOAD_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    fetch.add_argument("names", metavar="NAME", nargs="*", help="file names as listed in the manifests")
    fetch.add_argument("--group", help="every file of this catalog group (e.g. clip768, pca32, gold)")
    fetch.add_argument("--subset", help="every catalog file of this subset (e.g. 100K, 10M, queries)")
    fetch.add_argument("--dir", type=Path, default=Path("downloads"),
                       help="folder to download into (default: %(default)s)")
    fetch.add_argument("--data", type=Path, default=Path("data"),
                       help="folder of the URL, size and md5 manifests (default: %(default)s)")
    fetch.add_argument("--catalog", type=Path, default=Path("data") / "catalog.yml",
                       help="catalog naming the files of each group and subset (default: %(default)s)")
    fetch.add_argument("--mirror", help="base URL replacing everything before the file name in each URL")
    fetch.add_argument("--attempts", type=int, default=RetryPolicy.attempts,
                       help="tries per file before giving up (default: %(default)s)")
    fetch.add_argument("--retry-delay", type=float, default=RetryPolicy.first_delay,
                       help="seconds before the first retry, doubled for each next one (default: %(default)s)")
    fetch.add_argument("--timeout", type=float, default=RetryPolicy.timeout,
                       help="seconds without data before an attempt fails (default: %(default)s)")
    _add_cache_options(fetch)
    fetch.set_defaults(run=run_download)


def _add_cache_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cache-dir", type=Path, default=None,
                        help=f"where remembered digests are kept (default: {default_cache_dir()})")


def _cache(args) -> DigestCache:
    return DigestCache(args.cache_dir or default_cache_dir())


def _save(cache: DigestCache) -> None:
    """Remembered digests only save time: failing to store them is worth a warning, not a failed check."""
    try:
        cache.save()
    except OSError as exc:
        print(f"warning: digests not remembered: {cache.path}: {exc.strerror}", file=sys.stderr)


def _on_terminal() -> bool:
    return sys.stderr.isatty()


def read_verify_manifests(md5_path: Path) -> ManifestSet:
    """The md5 manifest, with the size manifests of its folder when they are there."""
    if not md5_path.is_file():
        raise ProjectError(f"{md5_path}: manifest not found")
    sizes = {name: read_sizes(md5_path.parent / name) if (md5_path.parent / name).is_file() else None
             for name in (SIZES_FILE, BYTES_FILE)}
    return ManifestSet(urls=Manifest("url", ""),
                       sizes=sizes[SIZES_FILE] or Manifest("size", str(md5_path.parent / SIZES_FILE)),
                       md5s=read_md5s(md5_path), exact_sizes=sizes[BYTES_FILE])


def run_verify(args) -> int:
    if not args.dir.is_dir():
        raise ProjectError(f"{args.dir}: no such folder")
    manifests = read_verify_manifests(args.manifest)
    for problem in manifests.md5s.conflicts():
        print(f"warning: {problem}; checking against the first", file=sys.stderr)
    plan = plan_checks(manifests, args.dir)
    if not plan.checks and not args.require_all:
        raise ProjectError(f"none of the {len(plan.missing)} files of {args.manifest} is in {args.dir}")
    cache = None if args.no_cache else _cache(args)
    results = []
    with tqdm(total=bytes_to_hash(plan.checks, cache), unit="B", unit_scale=True, unit_divisor=1024,
              desc="md5", disable=not _on_terminal(), file=sys.stderr) as bar:
        lock = threading.Lock()

        def advance(n: int) -> None:
            with lock:
                bar.update(n)
        try:
            for result in run_checks(plan.checks, args.jobs, cache, advance):
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
    return 0 if passed(results, plan.missing, args.require_all) else 1


def run_download(args) -> int:
    selections = sum(bool(x) for x in (args.names, args.group, args.subset))
    if selections != 1:
        raise ProjectError("name the files to download: FILES (names), GROUP or SUBSET, exactly one of them")
    manifests = read_manifest_set(args.data)
    names = args.names or _catalog_names(read_catalog(args.catalog), args.group, args.subset)
    targets = plan_downloads(names, manifests, args.dir, args.mirror)
    try:
        args.dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ProjectError(f"{args.dir}: cannot create the folder ({exc.strerror})") from None
    cache = _cache(args)
    policy = RetryPolicy(max(1, args.attempts), args.retry_delay, args.timeout)
    failures = 0
    with requests.Session() as session:
        for target in targets:
            try:
                _download_one(target, session, policy, cache)
            except DownloadError as exc:
                print(f"error: {exc}", file=sys.stderr)
                print(f"{target.name}: FAILED")
                failures += 1
            finally:
                _save(cache)
    print(f"{len(targets) - failures} of {len(targets)} files present and verified in {args.dir}")
    return 1 if failures else 0


def _download_one(target, session, policy, cache) -> None:
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


def _catalog_names(catalog: Catalog, group: str | None, subset: str | None) -> list[str]:
    if group:
        chosen = [g for g in catalog.groups if g.id == group]
        if not chosen:
            raise ProjectError(f"{catalog.path}: no group '{group}' (groups: "
                               f"{', '.join(g.id for g in catalog.groups)})")
        return [f.name for f in chosen[0].files]
    names = [f.name for f in catalog.files() if f.rows.label == subset]
    if not names:
        raise ProjectError(f"{catalog.path}: no file of subset '{subset}' (subsets: {', '.join(catalog.subsets)})")
    return names
