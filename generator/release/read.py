"""Reader of the pipeline config (data/pipeline.yml, data/pipeline-sample.yml).

Every key is checked with its line, as in the catalog: a misspelt key, a part range
backwards, a training subset that is not defined, each is an error naming the line.
Relative paths (the BinWalk model) are taken relative to the config file's folder.
"""
from __future__ import annotations

from pathlib import Path

from generator.errors import InputError
from generator.inputs.text import read_text
from generator.inputs.yaml_nodes import YamlNodes, compose
from generator.models.pipeline import (DEV, NSFW_RULES, SKETCH_GROUP, GoldSpec, PCASpec, PipelineConfig, QuerySpec,
                                       SampleSpec, SketchSpec, SubsetSpec)


def read_pipeline_config(path: Path) -> PipelineConfig:
    return parse_pipeline_config(read_text(Path(path)), str(path))


def parse_pipeline_config(text: str, path: str) -> PipelineConfig:
    root = compose(text, path, "the pipeline config")
    nodes = YamlNodes(path)
    top = nodes.mapping(root, "the pipeline config",
                        ("subsets", "queries", "pca", "sketches", "gold", "recall"), ("sample",))
    if top is None or nodes.problems:
        raise InputError(nodes.problems)
    subsets = _subsets(nodes, top["subsets"])
    labels = {spec.label for spec in subsets}
    config = PipelineConfig(
        path=path,
        subsets=subsets,
        queries=_queries(nodes, top["queries"]),
        pca=_pca(nodes, top["pca"], labels),
        sketches=_sketches(nodes, top["sketches"], Path(path).parent),
        gold=_gold(nodes, top["gold"]),
        recall_k=_recall(nodes, top["recall"]),
        sample=_sample(nodes, top["sample"]) if "sample" in top else None)
    if nodes.problems:
        raise InputError(nodes.problems)
    return config


def _subsets(nodes: YamlNodes, node) -> tuple[SubsetSpec, ...]:
    subsets, seen = [], set()
    for item in nodes.sequence(node, "subsets"):
        fields = nodes.mapping(item, "a subset", ("label", "parts", "rule"), ("rows",))
        if fields is None or not {"label", "parts", "rule"} <= fields.keys():
            continue
        label = nodes.text(fields["label"], "the label of a subset")
        what = f"subset '{label}'"
        if label in seen:
            nodes.fail(fields["label"], f"{what} is defined twice")
        seen.add(label)
        if not label.replace("-", "").replace("_", "").isalnum():
            nodes.fail(fields["label"], f"the label of {what} may hold only letters, digits, '-' and '_'")
        first, last = _part_range(nodes, fields["parts"], what)
        rule = nodes.text(fields["rule"], f"the rule of {what}")
        if rule not in NSFW_RULES:
            nodes.fail(fields["rule"], f"the rule of {what} must be one of {', '.join(NSFW_RULES)}, not '{rule}'")
        rows = nodes.count(fields["rows"], f"rows of {what}") if "rows" in fields else None
        if (rule == DEV) != (rows is not None):
            nodes.fail(item, f"{what}: a '{DEV}' subset needs 'rows' (its size); a strict one takes whole parts")
        subsets.append(SubsetSpec(label, first, last, rule, rows, nodes.origin(item)))
    if not subsets:
        nodes.fail(node, "subsets must list at least one subset")
    return tuple(subsets)


def _part_range(nodes: YamlNodes, node, what: str) -> tuple[int, int]:
    items = nodes.sequence(node, f"parts of {what}")
    if len(items) != 2:
        nodes.fail(node, f"parts of {what} must be [first, last]")
        return 0, 0
    first, last = (nodes.count(item, f"a part number of {what}", minimum=0) for item in items)
    if last < first:
        nodes.fail(node, f"parts of {what}: the last part {last} comes before the first {first}")
    return first, last


def _queries(nodes: YamlNodes, node) -> QuerySpec:
    fields = nodes.mapping(node, "queries", ("part", "count", "seed")) or {}
    if len(fields) < 3:
        return QuerySpec(0, 1, 0)
    return QuerySpec(nodes.count(fields["part"], "the query part", minimum=0),
                     nodes.count(fields["count"], "the query count"),
                     nodes.count(fields["seed"], "the query seed", minimum=0))


def _pca(nodes: YamlNodes, node, labels: set[str]) -> PCASpec:
    fields = nodes.mapping(node, "pca", ("dims", "train")) or {}
    if len(fields) < 2:
        return PCASpec((), "")
    dims = tuple(nodes.count(item, "a PCA dimension") for item in nodes.sequence(fields["dims"], "pca dims"))
    if len(set(dims)) != len(dims):
        nodes.fail(fields["dims"], "pca dims lists a dimension twice")
    train = nodes.text(fields["train"], "the PCA training subset")
    if train not in labels:
        nodes.fail(fields["train"], f"the PCA training subset '{train}' is not one of the subsets")
    return PCASpec(dims, train)


def _sketches(nodes: YamlNodes, node, folder: Path) -> SketchSpec:
    fields = nodes.mapping(node, "sketches", (), ("model", "create")) or {}
    if ("model" in fields) == ("create" in fields):
        nodes.fail(node, "sketches needs exactly one of 'model' (the official file) or 'create'")
        return SketchSpec(None, 0, 1024, 1)
    if "model" in fields:
        return SketchSpec(folder / nodes.text(fields["model"], "the sketch model path"), 0, 1024, 1)
    create = nodes.mapping(fields["create"], "sketches create", ("seed", "refs", "sample_rows")) or {}
    if len(create) < 3:
        return SketchSpec(None, 0, 1024, 1)
    spec = SketchSpec(None, nodes.count(create["seed"], "the sketch seed", minimum=0),
                      nodes.count(create["refs"], "the number of sketch references"),
                      nodes.count(create["sample_rows"], "the sketch sample rows"))
    if spec.refs % SKETCH_GROUP:
        nodes.fail(create["refs"], f"the number of sketch references must be a multiple of {SKETCH_GROUP}")
    if spec.sample_rows < spec.refs:
        nodes.fail(create["sample_rows"], f"the sketch sample rows must be at least the references ({spec.refs})")
    return spec


def _gold(nodes: YamlNodes, node) -> GoldSpec:
    fields = nodes.mapping(node, "gold", ("k", "k_f64")) or {}
    if len(fields) < 2:
        return GoldSpec(1, 1)
    k, k_f64 = nodes.count(fields["k"], "gold k"), nodes.count(fields["k_f64"], "gold k_f64")
    if k > k_f64:
        nodes.fail(fields["k"], f"gold k ({k}) must not exceed k_f64 ({k_f64}): the k file is a prefix of it")
    return GoldSpec(k, k_f64)


def _recall(nodes: YamlNodes, node) -> int:
    fields = nodes.mapping(node, "recall", ("k",)) or {}
    return nodes.count(fields["k"], "recall k") if "k" in fields else 1


def _sample(nodes: YamlNodes, node) -> SampleSpec:
    fields = nodes.mapping(node, "sample", ("parts", "rows", "clusters", "seed")) or {}
    if len(fields) < 4:
        return SampleSpec(1, 1, 1, 0)
    return SampleSpec(nodes.count(fields["parts"], "sample parts"), nodes.count(fields["rows"], "sample rows"),
                      nodes.count(fields["clusters"], "sample clusters"),
                      nodes.count(fields["seed"], "sample seed", minimum=0))
