"""`python -m generator pipeline STAGE`: the stages behind `make sample`, `make artifacts` and
the per-stage targets. Make decides what is out of date; each stage writes its files whole
(temporary name, then rename), so an interrupted run is simply run again.
"""
from __future__ import annotations

import argparse
import logging
from pathlib import Path

from generator.errors import ProjectError
from generator.inputs.parts import check_parts
from generator.inputs.pipeline_config import read_pipeline_config
from generator.models.pipeline import QUERIES, PipelineConfig
from generator.outputs import artifacts
from generator.outputs.files import atomic_write_text
from generator.work.rules import make_rules

DEFAULT_BASE_URL = "https://sisap-23-challenge.s3.amazonaws.com/SISAP23-Challenge"

# stage -> (help, its argument: None, a subset label, or a subset label or 'queries')
STAGES = {
    "sample": ("write the synthetic parts of the config's 'sample' section into --parts", None),
    "rules": ("write the make rules of the config to --to (used by the Makefile)", None),
    "check-parts": ("check every part the config reads (headers, row counts, NSFW column)", None),
    "subset": ("cut a database subset from the parts: NSFW rule, concatenation", "subset"),
    "queries": ("take the query vectors from the query part", None),
    "meta": ("write the metadata table meta-<LABEL>.tsv", "subset"),
    "pca-model": ("fit the PCA models on the training subset", None),
    "pca": ("project a subset (or 'queries') with every PCA model", "vectors"),
    "sketch-model": ("create a BinWalk model from the training subset (config 'sketches: create')", None),
    "hamming": ("compute the 1024-bit sketches of a subset (or 'queries')", "vectors"),
    "gold": ("compute the gold standards (k and k_f64) of a subset", "subset"),
    "recall": ("write the projection recall table recall-projections.csv", None),
    "manifests": ("write the md5, size and URL manifests of every bundle", None),
}


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "pipeline", help="run one stage of the build pipeline",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=Path("data/pipeline-sample.yml"),
                        help="pipeline config (default: %(default)s)")
    parser.add_argument("--parts", type=Path, default=Path("build/sample/parts"),
                        help="folder with img_emb/ and laion2B-en-metadata/ (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=Path("build/artifacts"),
                        help="folder of the artifacts (default: %(default)s)")
    stages = parser.add_subparsers(dest="stage", required=True, metavar="STAGE")
    for name, (text, label) in STAGES.items():
        stage = stages.add_parser(name, help=text, description=text)
        if label:
            stage.add_argument("label", help="subset label" + (" or 'queries'" if label == "vectors" else ""))
        if name == "rules":
            stage.add_argument("--to", type=Path, required=True, help="file to write the rules to")
        if name == "manifests":
            stage.add_argument("--base-url", default=DEFAULT_BASE_URL,
                               help="URL folder the bundles are published under (default: %(default)s)")
        stage.set_defaults(run=run)


def run(args) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    config = read_pipeline_config(args.config)
    label = getattr(args, "label", None)
    if label is not None:
        _check_label(config, label, allow_queries=STAGES[args.stage][1] == "vectors")
    parts, out = args.parts, args.out
    stages = {
        "sample": lambda: artifacts.write_sample(config, parts),
        "rules": lambda: atomic_write_text(args.to, make_rules(config)),
        "check-parts": lambda: check_parts(parts, config.parts),
        "subset": lambda: artifacts.write_subset(config, parts, out, label),
        "queries": lambda: artifacts.write_queries(config, parts, out),
        "meta": lambda: artifacts.write_meta(config, parts, out, label),
        "pca-model": lambda: artifacts.write_pca_model(config, out),
        "pca": lambda: artifacts.write_pca(config, out, label),
        "sketch-model": lambda: artifacts.write_sketch_model(config, out),
        "hamming": lambda: artifacts.write_hamming(config, out, label),
        "gold": lambda: artifacts.write_gold(config, out, label),
        "recall": lambda: artifacts.write_recall(config, out),
        "manifests": lambda: artifacts.write_manifests(config, out, args.base_url),
    }
    stages[args.stage]()
    return 0


def _check_label(config: PipelineConfig, label: str, allow_queries: bool) -> None:
    labels = [spec.label for spec in config.subsets] + ([QUERIES] if allow_queries else [])
    if label not in labels:
        raise ProjectError(f"'{label}' is not a subset of {config.path} (subsets: {', '.join(labels)})")

