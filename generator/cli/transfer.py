"""`verify` and `download`: the participants' tools (docs/design/index.md#participant-tools), behind `make verify`
and `make download`."""
from __future__ import annotations

import argparse
import os
from pathlib import Path

from generator.cli import COMMANDS
from generator.cli.options import number
from generator.errors import ProjectError
from generator.manifests.model import MD5_FILE
from generator.transfer.digest_cache import DigestCache, default_cache_dir
from generator.transfer.policy import RetryPolicy

VERIFY_EXAMPLES = """\
examples:
  python -m generator verify downloads
  python -m generator verify downloads --manifest data/releases/2023/dataset-files-md5.txt --require-all
  python -m generator verify /data/laion --no-cache --jobs 4
  laion2b verify /data/laion --index https://SITE/2024/datasets.json
  laion2b verify /data/laion --manifest https://SITE/2024/dataset-files-md5.txt

Each file of the manifest found in DIR (by its base name) is checked: its size
first when a size manifest next to the md5 manifest (dataset-files-bytes.txt, or a
plain byte count in dataset-files-size.txt) or the index knows the exact bytes,
then its md5. The index (--index) and the md5 manifest (--manifest) are read from
an http(s) URL, such as the datasets site's, or from a file; an md5 manifest read
from a URL is checked by md5 alone.
One line per file on standard output, as `md5sum -c` prints them ('name: OK',
'name: FAILED', 'name: FAILED open or read'), the reason of each failure on
standard error, a 'name: MISSING' line for each file of the manifest not in DIR,
then a summary. Digests of unchanged files are remembered, so a second run does
not read them again: a file counts as unchanged when its path, size, modification
time, inode change time, inode and device are all the same (a file rewritten with
its old modification time, or replaced by another, is hashed again). --no-cache
(NO_CACHE=1) reads every file anyway: for bytes changed below the file system (a
failing disk or cable), or a file system that does not keep these stamps (some
network and FUSE mounts); it cannot be given with --cache-dir. A manifest that
lists a name twice with different values is an error naming both lines, as on the
datasets page; --lenient (STRICT=0) warns and uses the first entry. Exit status 0
only when every file checked is OK (and, with --require-all, none is missing)."""

DOWNLOAD_EXAMPLES = """\
examples:
  python -m generator download laion2B-en-clip768v2-n=300K.h5 public-queries-10k-clip768v2.h5
  python -m generator download --group pca32 --dir /data/laion
  python -m generator download --subset 10M --mirror https://mirror.example.org/laion2b
  laion2b download --index https://SITE/datasets.json --subset 10M --dir data

The files, their URLs, sizes and md5s come from the manifests of --data and the
groups and subsets from --release; or all of them from the index the datasets
site publishes (--index URL), which needs no checkout of this project.
Each file is written to DIR/NAME.part; an interrupted download resumes from it
(HTTP Range) and transient failures are retried. The md5 is computed while the bytes
arrive (a resumed download first hashes the partial file it continues), so a file is
never read back once its last byte is written; it gets its final name only when its
size and that md5 match the manifests. A file already present and verified is skipped.
Names that would land outside DIR, URLs that are not http(s) and HTML pages served in
place of a bundle are refused; so is a symbolic link at NAME,
NAME.part or NAME.lock (no link below DIR is followed). A body longer than the file
can be is cut off at once; one that ends short (a dropped connection, from a server
that sends no Content-Length) is kept and resumed. While a process fetches a file
it holds DIR/NAME.lock: another process asked for the same file in the same DIR
stops at once with an error (run it again later: it then finds the file verified).
A manifest that lists a file to download twice with different values is an error
naming both lines; --lenient (STRICT=0) warns and uses the first entry.
Exit status 0 only when every file is present and verified."""


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    verify = commands.add_parser(
        "verify", help=COMMANDS["verify"].help,
        description="Checks the files of DIR against an md5 manifest, or against the index of the "
                    "datasets site.", epilog=VERIFY_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    verify.add_argument("dir", metavar="DIR", type=Path, help="the folder holding the downloaded files")
    source = verify.add_mutually_exclusive_group()
    source.add_argument("--manifest", default=str(Path("data") / "releases" / "2024" / MD5_FILE),
                        help="md5 manifest in any format `md5sum -c` reads, a file or an http(s) URL "
                             "(default: %(default)s)")
    source.add_argument("--index", metavar="URL_OR_FILE",
                        help="check against the index datasets.json of the datasets site instead (md5 and "
                             "exact sizes)")
    verify.add_argument("--require-all", action="store_true",
                        help="fail when a file of the manifest is missing from DIR")
    _add_cache_options(verify)
    _add_lenient_option(verify)
    verify.add_argument("--no-cache", action="store_true",
                        help="hash every file again, ignoring remembered digests (for damage the file's stamps "
                             "cannot show: a failing disk, a file system that does not keep them)")
    verify.add_argument("--jobs", type=number(int, 1, 256, "files"), default=min(4, os.cpu_count() or 1),
                        help="files hashed at the same time (default: %(default)s)")
    verify.set_defaults(run=run_verify)

    fetch = commands.add_parser(
        "download", help=COMMANDS["download"].help,
        description="Downloads bundles named in the URL manifest, by name, or every published bundle of a "
                    "group or subset of the release.",
        epilog=DOWNLOAD_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    fetch.add_argument("names", metavar="NAME", nargs="*", help="file names as listed in the manifests")
    fetch.add_argument("--group", help="every published bundle of this group (e.g. clip768, pca32, gold)")
    fetch.add_argument("--subset", help="what a task on this subset needs: its files, its gold standards and their "
                                        "query sets (e.g. 300K, 10M); or a query set's files (e.g. public)")
    fetch.add_argument("--dir", type=Path, default=Path("downloads"),
                       help="folder to download into (default: %(default)s)")
    fetch.add_argument("--data", type=Path, default=Path("data") / "releases" / "2024",
                       help="folder of the edition's URL, size and md5 manifests (default: %(default)s)")
    fetch.add_argument("--release", type=Path, default=Path("data") / "releases" / "2024.yml",
                       help="the edition's release definition naming the bundles of each group and subset "
                            "(default: %(default)s)")
    fetch.add_argument("--index", metavar="URL_OR_FILE",
                       help="the index datasets.json of the datasets site (an http(s) URL or a file): files, "
                            "URLs, sizes, md5s, groups and subsets, instead of --data and --release")
    fetch.add_argument("--mirror", help="base URL replacing everything before the file name in each URL")
    fetch.add_argument("--attempts", type=number(int, 1, 100, "attempts"), default=RetryPolicy.attempts,
                       help="tries per file before giving up (default: %(default)s)")
    fetch.add_argument("--retry-delay", type=number(float, 0, 3600, "seconds"), default=RetryPolicy.first_delay,
                       help="seconds before the first retry, doubled for each next one (default: %(default)s)")
    fetch.add_argument("--timeout", type=number(float, 0.001, 86400, "seconds"), default=RetryPolicy.timeout,
                       help="seconds without data before an attempt fails (default: %(default)s)")
    _add_cache_options(fetch)
    _add_lenient_option(fetch)
    fetch.set_defaults(run=run_download)


def _add_cache_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cache-dir", type=Path, default=None,
                        help=f"where remembered digests are kept (default: {default_cache_dir()})")


def _add_lenient_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--lenient", action="store_true",
                        help="go on when a manifest lists a name twice with different values: warn, naming both "
                             "lines, and use the first (as `make site STRICT=0` does); by default it is an error")


def _cache(args: argparse.Namespace) -> DigestCache:
    return DigestCache(args.cache_dir or default_cache_dir())


def run_verify(args: argparse.Namespace) -> int:
    from generator.transfer.commands import verify_folder  # loaded on use: `verify --help` stays fast

    if args.no_cache and args.cache_dir is not None:
        raise ProjectError("--cache-dir says where to keep remembered digests and --no-cache to use none: "
                           "give one of them")
    return verify_folder(args.dir, args.index or args.manifest, args.require_all, args.jobs,
                         None if args.no_cache else _cache(args), index=bool(args.index), strict=not args.lenient)


def run_download(args: argparse.Namespace) -> int:
    from generator.manifests.index import index_manifests  # loaded on use: `download --help` stays fast
    from generator.release.read import read_release
    from generator.transfer.commands import DownloadRequest, download_files, release_names, select_names
    from generator.transfer.remote import load_index

    if sum(bool(x) for x in (args.names, args.group, args.subset)) != 1:
        raise ProjectError("name the files to download: FILES (names), GROUP or SUBSET, exactly one of them")
    if args.index:
        index = load_index(args.index)
        names = args.names or select_names(index.bundles, args.group, args.subset, args.index)
        manifests = index_manifests(index)
    else:
        names = args.names or release_names(read_release(args.release), args.group, args.subset)
        manifests = None
    policy = RetryPolicy(args.attempts, args.retry_delay, args.timeout)
    return download_files(DownloadRequest(names, args.dir, args.data, args.mirror, policy, manifests,
                                          strict=not args.lenient), _cache(args))
