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
  python -m generator render --release data/release-sample.yml --data build/artifacts \\
      --artifacts build/artifacts"""


def register(commands) -> None:
    parser = commands.add_parser(
        "render", formatter_class=argparse.RawDescriptionHelpFormatter,
        help=COMMANDS["render"].help,
        description="Generate the datasets page (Markdown for MkDocs) from the release definition, the "
                    "page's wording, the three manifests and the projection recall table, with the files "
                    "published beside it: the index datasets.json and the manifests of the published "
                    "bundles. Problems in the inputs are printed as file:line: message; with --strict 1 any "
                    "problem fails the run and nothing is written; with --strict 0 the page is written and "
                    "marks each bad value with ⚠ and the reason.",
        epilog=EXAMPLES)
    parser.add_argument("--release", type=Path, default=Path("data/release.yml"),
                        help="the release definition: subsets, bundles, layouts (default: %(default)s)")
    parser.add_argument("--wording", type=Path, default=Path("data/page.yml"),
                        help="titles, descriptions and warnings of the page (default: %(default)s)")
    parser.add_argument("--data", type=Path, default=Path("data"),
                        help="folder holding dataset-files-{urls,size,md5}.txt (default: %(default)s)")
    parser.add_argument("--recall", type=Path, default=None,
                        help="projection recall CSV (default: DATA/recall-projections.csv, else "
                             "data/recall-projections.csv, the committed figures)")
    parser.add_argument("--artifacts", type=Path, default=None,
                        help="folder of produced files: their layout is read and their size and md5 "
                             "checked against the manifests")
    parser.add_argument("--strict", type=int, choices=(0, 1), default=1,
                        help="1 (default): any problem fails; 0: render with visible warnings")
    parser.add_argument("--out", type=Path, default=Path("docs/datasets.md"),
                        help="the page to write; datasets.json and the manifests go beside it (default: "
                             "%(default)s)")
    parser.add_argument("--plot", type=Path, default=Path("docs/assets/generated/recall-projections.svg"),
                        help="the recall plot to write, for the light colour scheme; the dark one goes "
                             "beside it as NAME-dark.svg (default: %(default)s)")
    parser.add_argument("--facts", type=Path, default=None,
                        help="the release's facts (description, licences, citation, creators, date, version) "
                             "for its Croissant description croissant.json, published beside the page and "
                             "embedded in its head (default: data/dataset-facts.yml when it exists, else none)")
    parser.add_argument("--site-url", default=LOCAL_SITE_URL,
                        help="where the site is published: the page's download commands read "
                             "SITE_URL/datasets.json (default: %(default)s, where `make serve` serves it)")
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
               "  python -m generator linkcheck --record   # then commit data/dataset-files-bytes.txt")
    links.add_argument("--release", type=Path, default=Path("data/release.yml"),
                       help="the release definition naming the published bundles (default: %(default)s)")
    links.add_argument("--data", type=Path, default=Path("data"),
                       help="folder holding the manifests (default: %(default)s)")
    links.add_argument("--timeout", type=float, default=30.0,
                       help="seconds to wait for each answer (default: %(default)s)")
    links.add_argument("--jobs", type=int, default=8, help="requests at the same time (default: %(default)s)")
    links.add_argument("--record", action="store_true",
                       help="write the sizes the servers state (Content-Length) for the links that pass into "
                            "DATA/dataset-files-bytes.txt, keeping the exact sizes it holds for the others, so that "
                            "the page and datasets.json then state exact bytes")
    links.set_defaults(run=run_linkcheck)


def run_linkcheck(args: argparse.Namespace) -> int:
    from generator.site.linkcheck import check_links  # loaded on use, like render's

    return check_links(args.release, args.data, args.timeout, args.jobs, record=args.record)


def run(args: argparse.Namespace) -> int:
    from generator.site.build import PageInputs, render_site_page  # plotting loads slowly; only render needs it

    print(render_site_page(PageInputs(
        release=args.release, wording=args.wording, data=args.data, out=args.out, plot=args.plot,
        recall=args.recall, fallback_recall=Path("data/recall-projections.csv"), artifacts=args.artifacts,
        strict=bool(args.strict), site_url=args.site_url,
        facts=args.facts or (DEFAULT_FACTS if DEFAULT_FACTS.is_file() else None))))
    return 0
