"""`render`: the datasets page from the catalog, the manifests and the recall table."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from generator.errors import ProjectError
from generator.inputs.artifacts import read_artifacts
from generator.inputs.catalog import read_catalog
from generator.inputs.manifests import read_manifest_set
from generator.inputs.recall import read_recall
from generator.outputs.page import write_page
from generator.outputs.plot import write_recall_plot
from generator.work.page import build_page


class StrictModeFailure(ProjectError):
    pass


def register(commands) -> None:
    parser = commands.add_parser(
        "render", formatter_class=argparse.RawDescriptionHelpFormatter,
        help="generate docs/datasets.md from the catalog and the manifests",
        description="Generate the datasets page (Markdown for MkDocs) from the catalog, the three "
                    "manifests and the projection recall table. Problems in the inputs are printed "
                    "as file:line: message; with --strict 1 any problem fails the run and nothing "
                    "is written.",
        epilog="examples:\n"
               "  python -m generator render\n"
               "  python -m generator render --data /tmp/new-manifests --strict 0\n"
               "  python -m generator render --artifacts build/artifacts "
               "--data build/artifacts --recall build/artifacts/recall-projections.csv")
    parser.add_argument("--data", type=Path, default=Path("data"),
                        help="folder holding dataset-files-{urls,size,md5}.txt (default: data)")
    parser.add_argument("--catalog", type=Path, default=Path("data/catalog.yml"),
                        help="the catalog of groups, files, kinds and warnings (default: data/catalog.yml)")
    parser.add_argument("--recall", type=Path, default=None,
                        help="projection recall CSV (default: DATA/recall-projections.csv)")
    parser.add_argument("--artifacts", type=Path, default=None,
                        help="folder of produced files: their layout is read and their size and md5 "
                             "checked against the manifests")
    parser.add_argument("--strict", type=int, choices=(0, 1), default=1,
                        help="1 (default): any problem fails; 0: render with visible warnings")
    parser.add_argument("--out", type=Path, default=Path("docs/datasets.md"),
                        help="the page to write (default: docs/datasets.md)")
    parser.add_argument("--plot", type=Path, default=Path("docs/assets/generated/recall-projections.svg"),
                        help="the recall plot to write (default: docs/assets/generated/recall-projections.svg)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    catalog = read_catalog(args.catalog)
    manifests = read_manifest_set(args.data)
    recall = read_recall(args.recall or args.data / "recall-projections.csv")
    artifacts = (read_artifacts(args.artifacts, [f.name for f in catalog.files()])
                 if args.artifacts else None)
    plot_link = Path(os.path.relpath(args.plot, args.out.parent)).as_posix()
    page = build_page(catalog, manifests, recall, artifacts, plot_link if recall.rows else None)
    for problem in page.problems:
        print(problem, file=sys.stderr)
    if page.problems and args.strict:
        raise StrictModeFailure(f"{len(page.problems)} problem(s) in the inputs; nothing was written "
                                f"(STRICT=0 renders the page with warnings in place of bad values)")
    if recall.rows:
        write_recall_plot(recall, args.plot)
    write_page(page, args.out)
    files = sum(len(g.rows) for g in page.groups)
    print(f"wrote {args.out}: {files} files in {len(page.groups)} groups"
          + (f", {len(page.problems)} problem(s) shown as warnings" if page.problems else ""))
    return 0
