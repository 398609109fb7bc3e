"""`render`: the datasets page from the release, its wording, the manifests and the recall table;
`linkcheck`: every download link of the page answers with the stated size."""
from __future__ import annotations

import argparse
from pathlib import Path

from generator.cli import COMMANDS

# Where `make serve` (or `python3 -m http.server 8000 -d site`) serves the site, for a build that
# is not told where the site is published.
LOCAL_SITE_URL = "http://127.0.0.1:8000/"
# The facts of the Croissant description, when --facts does not name a file.
DEFAULT_FACTS = Path("data/dataset-facts.yml")

EXAMPLES = """\
examples:
  python -m generator render
  python -m generator render --data /tmp/new-manifests --strict 0
  python -m generator render --editions sample-2023 sample-2024 --data build/artifacts \\
      --artifacts build/artifacts --docs build/sample-site/docs"""


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "render", formatter_class=argparse.RawDescriptionHelpFormatter,
        help=COMMANDS["render"].help,
        description="Generate the datasets pages (Markdown for MkDocs) of the editions: the newest as "
                    "DOCS/datasets.md, the others as DOCS/EDITION/datasets.md, each edition's index "
                    "datasets.json and manifests of its published bundles (and its recall plot) in DOCS/EDITION/, "
                    "and DOCS/editions.md listing them. Each edition is read from its release definition, the "
                    "page's wording, its three manifests in DATA/EDITION/ and its recall table there. Problems in "
                    "the inputs are printed as file:line: message; with --strict 1 any problem fails the run and "
                    "nothing is written; with --strict 0 the pages are written and mark each bad value with ⚠ and "
                    "the reason.",
        epilog=EXAMPLES)
    parser.add_argument("--releases", type=Path, default=Path("data/releases"),
                        help="folder of the release definitions, one EDITION.yml per edition (default: %(default)s)")
    parser.add_argument("--editions", nargs="+", default=None, metavar="EDITION",
                        help="the editions to publish (default: every edition of --releases that is not a sample)")
    parser.add_argument("--wording", type=Path, default=Path("data/page.yml"),
                        help="titles, descriptions and warnings of the pages (default: %(default)s)")
    parser.add_argument("--data", type=Path, default=Path("data/releases"),
                        help="folder holding EDITION/dataset-files-{urls,size,md5}.txt (and the edition's "
                             "recall-projections.csv) per edition (default: %(default)s)")
    parser.add_argument("--artifacts", type=Path, default=None,
                        help="folder of produced files, EDITION/ per edition: their layout is read and their size "
                             "and md5 checked against the manifests")
    parser.add_argument("--strict", type=int, choices=(0, 1), default=1,
                        help="1 (default): any problem fails; 0: render with visible warnings")
    parser.add_argument("--docs", type=Path, default=Path("docs"),
                        help="the documentation folder the pages and files are written into (default: %(default)s)")
    parser.add_argument("--facts", type=Path, default=None,
                        help="the facts every edition shares (description, licences, citation, creators) for "
                             "its Croissant description croissant.json, published beside its page and embedded in "
                             "its head (default: data/dataset-facts.yml when it exists, else none)")
    parser.add_argument("--site-url", default=LOCAL_SITE_URL,
                        help="where the site is published: the pages' download commands read "
                             "SITE_URL/EDITION/datasets.json (default: %(default)s, where `make serve` serves it)")
    parser.set_defaults(run=run)

    links = commands.add_parser(
        "linkcheck", formatter_class=argparse.RawDescriptionHelpFormatter,
        help=COMMANDS["linkcheck"].help,
        description="Sends a HEAD request to the URL of every published bundle (a GET whose body is not "
                    "read where a server refuses HEAD) and compares its Content-Length with the exact size "
                    "manifest (dataset-files-bytes.txt, or byte counts in dataset-files-size.txt), else with "
                    "the du -h size. One line per link, then a summary; exit status 0 only when every link "
                    "answers 200 with the stated size. It reaches the real servers: run it by hand or on a "
                    "schedule, not in the tests.",
        epilog="examples:\n  python -m generator linkcheck\n  python -m generator linkcheck --data /tmp/new-manifests\n"
               "  python -m generator linkcheck --record   # then commit data/releases/2024/dataset-files-bytes.txt")
    links.add_argument("--release", type=Path, default=Path("data/releases/2024.yml"),
                       help="the release definition naming the published bundles (default: %(default)s)")
    links.add_argument("--data", type=Path, default=Path("data/releases/2024"),
                       help="folder holding the manifests (default: %(default)s)")
    links.add_argument("--timeout", type=float, default=30.0,
                       help="seconds to wait for each answer (default: %(default)s)")
    links.add_argument("--jobs", type=int, default=8, help="requests at the same time (default: %(default)s)")
    links.add_argument("--record", action="store_true",
                       help="write the sizes the servers state (Content-Length) for the links that pass into "
                            "DATA/dataset-files-bytes.txt, keeping the exact sizes it holds for the others, so that "
                            "the page and datasets.json then state exact bytes")
    links.set_defaults(run=run_linkcheck)

    reference = commands.add_parser(
        "make-reference", help=COMMANDS["make-reference"].help,
        description="Writes the reference of make targets and variables (docs/maintainers/make-variables.md) "
                    "from the Makefile itself: each target's `## help` text and each `?=` variable's default "
                    "with the comment above it. Behind `make reference`.")
    reference.add_argument("--makefile", type=Path, default=Path("Makefile"),
                           help="the Makefile to read (default: %(default)s)")
    reference.add_argument("--out", type=Path, default=Path("docs/maintainers/make-variables.md"),
                           help="the page to write (default: %(default)s)")
    reference.set_defaults(run=run_make_reference)


def run_make_reference(args: argparse.Namespace) -> int:
    from generator.io.files import atomic_write_text
    from generator.io.text import read_text
    from generator.site.make_reference import reference_page

    atomic_write_text(args.out, reference_page(read_text(args.makefile)))
    print(f"wrote {args.out}")
    return 0


def run_linkcheck(args: argparse.Namespace) -> int:
    from generator.site.linkcheck import check_links  # loaded on use, like render's

    return check_links(args.release, args.data, args.timeout, args.jobs, record=args.record)


def run(args: argparse.Namespace) -> int:
    from generator.site.build import SiteInputs, publishable_releases, render_site  # plotting loads slowly

    print(render_site(SiteInputs(
        releases=publishable_releases(args.releases, args.editions), wording=args.wording, data=args.data,
        docs=args.docs, site_url=args.site_url, artifacts=args.artifacts, strict=bool(args.strict),
        facts=args.facts or (DEFAULT_FACTS if DEFAULT_FACTS.is_file() else None))))
    return 0
