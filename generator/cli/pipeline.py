"""`python -m generator pipeline STAGE`: the stages behind `make sample`, `make artifacts` and the
per-stage targets. Make decides what is out of date; each stage writes its files whole
(temporary name, then rename), so an interrupted run is simply run again.

With --scheduler, the heavy stages (pca-model, pca, hamming, gold) run their tasks on Dask:
`local` starts a LocalCluster for the stage (--workers processes of --threads threads), and
tcp://host:port uses a running scheduler, whose workers must see --parts and --out under the
same paths and have this project installed. A stage waits for a first worker up to
--worker-timeout seconds, plans its work from the workers present as it submits it (a worker
that joins later takes queued tasks; one that leaves has its tasks run elsewhere), and sets each
worker's BLAS threads from the worker threads on its host. A task failing on the data, the
definition or the code fails the stage at once; a transient I/O error runs it again (twice at
most). The outputs are the same bytes either way. Dask comes with the project's 'dask' extra
(pip install -e '.[dask]').
"""
from __future__ import annotations

import argparse
import logging
from pathlib import Path

from generator.cli import COMMANDS
from generator.cli.options import number
from generator.errors import ProjectError
from generator.io.files import write_if_changed
from generator.pipeline.rules import make_rules, stamp_texts
from generator.pipeline.schedule import LOCAL, WORKER_TIMEOUT, Scheduler, run_in_local_cluster, scheduler_address
from generator.pipeline.stages import (GOLD_PAIRS, ONCE, QUERIES, STAGES, SUBSETS, VECTORS, Run, checked_parts,
                                       run_stage, write_sample, write_sample_externals)
from generator.release.model import Release
from generator.release.read import read_release

# Commands beside the stages: they write no artifact.
TOOLS = {
    "sample": "write the synthetic parts of the release's 'sample' section into --parts",
    "rules": "write the make rules of the release to --to and each stage's stamp file to --out/.stamps, each only "
             "when its text changes (used by the Makefile on every run)",
    "check-parts": "check every part the release reads (headers, row counts, NSFW column, every embedding row)",
    "sample-externals": "write stand-ins for the external files of a sample edition into --out (a real edition's "
                        "external files come from the organisers)",
    "local-cluster": "start a Dask LocalCluster (--workers, --threads), run COMMAND with DASK_SCHEDULER_ADDRESS set to "
                     "its address, then stop it (what make runs for SCHEDULER=local)",
}


LABEL_HELP = {
    SUBSETS: "subset label",
    QUERIES: "query set label",
    VECTORS: "subset or query set label",
    GOLD_PAIRS: "SUBSET/QUERIES: a subset label and a query set label",
}


def _scheduler_option(text: str) -> str:
    try:
        return scheduler_address(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "pipeline", help=COMMANDS["pipeline"].help,
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--release", type=Path, default=Path("data/releases/sample-2023.yml"),
                        help="the release definition of the edition to build (default: %(default)s; the "
                             "challenge's: data/releases/2023.yml, ...)")
    parser.add_argument("--parts", type=Path, default=Path("build/sample/parts"),
                        help="folder with img_emb/ and laion2B-en-metadata/ (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=Path("build/artifacts/sample-2023"),
                        help="folder of the edition's artifacts; an earlier edition's files it reuses are read "
                             "from the folder of that edition's name beside it (default: %(default)s)")
    parser.add_argument("--scheduler", type=_scheduler_option, default=None, metavar="local|tcp://HOST:PORT",
                        help="run the heavy stages' tasks on Dask: a LocalCluster started here, or a running "
                             "scheduler (default: in this process)")
    parser.add_argument("--workers", type=number(int, 1, 4096, "workers"), default=None,
                        help="worker processes of the LocalCluster (default: Dask's split of the cores)")
    parser.add_argument("--threads", type=number(int, 1, 4096, "threads"), default=None,
                        help="threads per worker process of the LocalCluster (default: Dask's split of the cores)")
    parser.add_argument("--worker-timeout", type=number(float, 0, 7 * 86400, "seconds"), default=WORKER_TIMEOUT,
                        metavar="SECONDS",
                        help="how long a stage on Dask waits for a first worker before it fails (an adaptive or "
                             "batch-queue cluster starts with none; default: %(default)g)")
    stages = parser.add_subparsers(dest="stage", required=True, metavar="STAGE")
    for name, text in TOOLS.items():
        tool = stages.add_parser(name, help=text, description=text)
        if name == "rules":
            tool.add_argument("--to", type=Path, required=True, help="file to write the rules to")
        if name == "local-cluster":
            tool.add_argument("command", nargs=argparse.REMAINDER, metavar="-- COMMAND ...",
                              help="the command to run while the cluster runs")
        tool.set_defaults(run=run_tool)
    for stage in STAGES:
        command = stages.add_parser(stage.name, help=stage.help, description=stage.help)
        if stage.scope != ONCE:
            command.add_argument("label", help=LABEL_HELP[stage.scope])
        if stage.name == "manifests":
            command.add_argument("--base-url", default=None,
                                 help="URL folder the bundles are published under (default: the release's base_url)")
        command.set_defaults(run=run)


def _log_progress() -> None:
    """The pipeline's own INFO lines on stderr; other libraries' (Dask's) only from WARNING up."""
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    logging.getLogger("generator").setLevel(logging.INFO)


def _release(args: argparse.Namespace) -> Release:
    _log_progress()
    return read_release(args.release)


def _scheduler(args: argparse.Namespace) -> Scheduler:
    """Where the heavy stages run; --workers and --threads size a LocalCluster only."""
    if args.scheduler != LOCAL and (args.workers or args.threads):
        raise ProjectError(f"--workers and --threads size the LocalCluster of --scheduler {LOCAL}; "
                           + (f"the cluster at {args.scheduler} has workers of its own" if args.scheduler
                              else "without --scheduler the stages run in this process"))
    return Scheduler(args.scheduler, args.workers, args.threads, args.worker_timeout)


def run_tool(args: argparse.Namespace) -> int:
    if args.stage == "local-cluster":
        return _local_cluster(args)
    release = _release(args)
    if args.stage == "sample":
        write_sample(release, args.parts)
    elif args.stage == "sample-externals":
        write_sample_externals(Run(release, args.parts, args.out))
    elif args.stage == "rules":
        for name, text in stamp_texts(release).items():
            write_if_changed(args.out / name, text.encode("utf-8"))
        write_if_changed(args.to, make_rules(release).encode("utf-8"))
    else:
        checked_parts(release, args.parts, args.out)
    return 0


def _local_cluster(args: argparse.Namespace) -> int:
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        raise ProjectError("local-cluster needs a command to run: local-cluster -- COMMAND ...")
    _log_progress()
    return run_in_local_cluster(args.workers, args.threads, command)


def run(args: argparse.Namespace) -> int:
    scheduler = _scheduler(args)
    release = _release(args)
    run_stage(Run(release, args.parts, args.out, getattr(args, "base_url", None), scheduler), args.stage,
              getattr(args, "label", None))
    return 0
