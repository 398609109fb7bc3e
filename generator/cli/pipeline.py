"""`python -m generator pipeline STAGE`: the stages behind `make sample`, `make artifacts` and the
per-stage targets. Make decides what is out of date; each stage writes its files whole
(temporary name, then rename), so an interrupted run is simply run again.
"""
from __future__ import annotations

import argparse
import logging
from pathlib import Path

from generator.io.files import atomic_write_text
from generator.pipeline.rules import make_rules
from generator.pipeline.stages import ONCE, STAGES, VECTORS, Run, checked_parts, run_stage, write_sample
from generator.release.read import read_release

# Commands beside the stages: they write no artifact.
TOOLS = {
    "sample": "write the synthetic parts of the release's 'sample' section into --parts",
    "rules": "write the make rules of the release to --to (used by the Makefile)",
    "check-parts": "check every part the release reads (headers, row counts, NSFW column, every embedding row)",
}


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "pipeline", help="run one stage of the build pipeline",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--release", type=Path, default=Path("data/release-sample.yml"),
                        help="the release definition (default: %(default)s; the challenge: data/release.yml)")
    parser.add_argument("--parts", type=Path, default=Path("build/sample/parts"),
                        help="folder with img_emb/ and laion2B-en-metadata/ (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=Path("build/artifacts"),
                        help="folder of the artifacts (default: %(default)s)")
    stages = parser.add_subparsers(dest="stage", required=True, metavar="STAGE")
    for name, text in TOOLS.items():
        tool = stages.add_parser(name, help=text, description=text)
        if name == "rules":
            tool.add_argument("--to", type=Path, required=True, help="file to write the rules to")
        tool.set_defaults(run=run_tool)
    for stage in STAGES:
        command = stages.add_parser(stage.name, help=stage.help, description=stage.help)
        if stage.scope != ONCE:
            command.add_argument("label", help="subset label" + (" or the queries' label" if stage.scope == VECTORS
                                                                 else ""))
        if stage.name == "manifests":
            command.add_argument("--base-url", default=None,
                                 help="URL folder the bundles are published under (default: the release's base_url)")
        command.set_defaults(run=run)


def _release(args):
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    return read_release(args.release)


def run_tool(args) -> int:
    release = _release(args)
    if args.stage == "sample":
        write_sample(release, args.parts)
    elif args.stage == "rules":
        atomic_write_text(args.to, make_rules(release))
    else:
        checked_parts(release, args.parts, args.out)
    return 0


def run(args) -> int:
    release = _release(args)
    run_stage(Run(release, args.parts, args.out, getattr(args, "base_url", None)), args.stage,
              getattr(args, "label", None))
    return 0
