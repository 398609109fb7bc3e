"""Readers of the release definition (data/release.yml, data/release-sample.yml) and of the
page's wording (data/page.yml).

Read with `YamlNodes`: every key is checked with its line, so a misspelt key, a part range
backwards, a bundle of an unknown kind or a template naming an unknown placeholder is an
error naming its line. All problems of a file are reported at once. Relative paths (the
BinWalk model) are taken relative to the release file's folder.
"""
from __future__ import annotations

import re
from pathlib import Path

import yaml

from generator.errors import InputError
from generator.io.text import read_text
from generator.io.yaml_nodes import YamlNodes, compose
from generator.manifests.model import is_http_url
from generator.release.model import (COMPUTATIONS, DEV, EMBEDDING_DIM, EMBEDDINGS, GOLD, META, NSFW_RULES, PCA,
                                     SKETCHES, SUBSET_PLACEHOLDER, Admonition, BundleKind, DatasetLayout,
                                     GroupWording, Layout, QuerySet, Release, SampleSettings, SketchSettings, Subset,
                                     Wording)
from generator.release.model import LINK_NAMES, Links
from generator.release.wording import DESCRIPTION_NAMES, GLOBAL_NAMES, SUBSET_NAMES, placeholders

_LABEL = re.compile(r"[A-Za-z0-9_-]{1,64}")
ADMONITION_LEVELS = ("note", "info", "warning", "danger")

# The dtypes each computation can write, by dataset role.
_DTYPES = {
    EMBEDDINGS: ("float16", "float32", "float64"),
    PCA: ("float32", "float64"),
    SKETCHES: ("uint64",),
    "ids": ("int32", "int64"),
    "distances": ("float32", "float64"),
}
_ALL_DTYPES = tuple(dict.fromkeys(dtype for dtypes in _DTYPES.values() for dtype in dtypes))


def read_release(path: Path) -> Release:
    return parse_release(read_text(Path(path)), str(path))


def parse_release(text: str, path: str) -> Release:
    root = compose(text, path, "the release definition")
    nodes = YamlNodes(path)
    top = nodes.mapping(root, "the release definition",
                        ("name", "base_url", "subsets", "queries", "bundles", "pca", "sketches", "recall"),
                        ("sample",))
    if top is None or nodes.problems:
        raise InputError(nodes.problems)
    base_url = nodes.text(top["base_url"], "base_url")
    if base_url and not is_http_url(base_url):
        nodes.fail(top["base_url"], f"base_url '{base_url}' is not an http(s) URL")
    subsets = _subsets(nodes, top["subsets"])
    queries = _queries(nodes, top["queries"], {s.label for s in subsets})
    recall_k = _recall(nodes, top["recall"])
    kinds = _bundles(nodes, top["bundles"], [s.label for s in subsets], queries.label, recall_k)
    sketch_kinds = [kind for kind in kinds if kind.of == SKETCHES]
    refs = 64 * sketch_kinds[0].layout.cols if sketch_kinds and sketch_kinds[0].layout.cols else 64
    release = Release(
        path=path,
        name=nodes.text(top["name"], "name"),
        base_url=base_url.rstrip("/"),
        subsets=subsets,
        queries=queries,
        kinds=kinds,
        pca_train=_pca(nodes, top["pca"], {s.label for s in subsets}),
        sketches=_sketches(nodes, top["sketches"], Path(path).parent, refs),
        recall_k=recall_k,
        sample=_sample(nodes, top["sample"]) if "sample" in top else None)
    if nodes.problems:
        raise InputError(nodes.problems)
    return release


def _subsets(nodes: YamlNodes, node: yaml.Node) -> tuple[Subset, ...]:
    subsets, seen = [], set()
    for item in nodes.sequence(node, "subsets"):
        fields = nodes.mapping(item, "a subset", ("label", "parts", "rule"), ("rows", "count", "about"))
        if fields is None or not {"label", "parts", "rule"} <= fields.keys():
            continue
        label = _label(nodes, fields["label"], "the label of a subset")
        what = f"subset '{label}'"
        if label in seen:
            nodes.fail(fields["label"], f"{what} is defined twice")
        seen.add(label)
        first, last = _part_range(nodes, fields["parts"], what)
        rule = nodes.text(fields["rule"], f"the rule of {what}")
        if rule not in NSFW_RULES:
            nodes.fail(fields["rule"], f"the rule of {what} must be one of {', '.join(NSFW_RULES)}, not '{rule}'")
        rows = nodes.count(fields["rows"], f"rows of {what}") if "rows" in fields else None
        if (rule == DEV) != (rows is not None):
            nodes.fail(item, f"{what}: a '{DEV}' subset needs 'rows' (its size); a strict one takes whole parts")
        if rule == DEV and ("count" in fields or "about" in fields):
            nodes.fail(item, f"{what}: a '{DEV}' subset has exactly 'rows' rows; 'count' and 'about' are for "
                             "strict subsets")
        if "count" in fields and "about" in fields:
            nodes.fail(item, f"{what}: give its size as 'count' (exact) or 'about' (approximate), not both")
        count = nodes.count(fields["count"], f"count of {what}") if "count" in fields else None
        about = nodes.text(fields["about"], f"about of {what}") if "about" in fields else None
        subsets.append(Subset(label, first, last, rule, rows, count, about, nodes.origin(item)))
    if not subsets:
        nodes.fail(node, "subsets must list at least one subset")
    return tuple(subsets)


def _label(nodes: YamlNodes, node: yaml.Node, what: str) -> str:
    label = nodes.text(node, what)
    if label and not _LABEL.fullmatch(label):
        nodes.fail(node, f"{what} '{label}' may hold only letters, digits, '-' and '_' (at most 64)")
    return label


def _part_range(nodes: YamlNodes, node: yaml.Node, what: str) -> tuple[int, int]:
    items = nodes.sequence(node, f"parts of {what}")
    if len(items) != 2:
        nodes.fail(node, f"parts of {what} must be [first, last]")
        return 0, 0
    first, last = (nodes.count(item, f"a part number of {what}", minimum=0, maximum=9999) for item in items)
    if last < first:
        nodes.fail(node, f"parts of {what}: the last part {last} comes before the first {first}")
    return first, last


def _queries(nodes: YamlNodes, node: yaml.Node, subset_labels: set[str]) -> QuerySet:
    fields = nodes.mapping(node, "queries", ("label", "part", "count", "seed")) or {}
    if len(fields) < 4:
        return QuerySet("queries", 0, 1, 0, nodes.origin(node))
    label = _label(nodes, fields["label"], "the label of the queries")
    if label in subset_labels:
        nodes.fail(fields["label"], f"the label of the queries '{label}' is also a subset's label")
    return QuerySet(label, nodes.count(fields["part"], "the query part", minimum=0, maximum=9999),
                    nodes.count(fields["count"], "the query count"),
                    nodes.count(fields["seed"], "the query seed", minimum=0), nodes.origin(node))


def _bundles(nodes: YamlNodes, node: yaml.Node, labels: list[str], queries_label: str,
             recall_k: int) -> tuple[BundleKind, ...]:
    kinds: list[BundleKind] = []
    ids: set[str] = set()
    files: dict[str | None, str] = {}  # file name (None: no queries' file) -> its bundle's id
    for item in nodes.sequence(node, "bundles"):
        fields = nodes.mapping(item, "a bundle", ("id", "of", "file", "publish"),
                               ("queries_file", "datasets", "queries_datasets", "columns"))
        if fields is None or not {"id", "of", "file", "publish"} <= fields.keys():
            continue
        kind_id = _label(nodes, fields["id"], "the id of a bundle")
        what = f"bundle '{kind_id}'"
        if kind_id in ids:
            nodes.fail(fields["id"], f"{what} is defined twice")
        ids.add(kind_id)
        of = nodes.text(fields["of"], f"'of' of {what}")
        if of not in COMPUTATIONS:
            nodes.fail(fields["of"], f"'of' of {what} must be one of {', '.join(COMPUTATIONS)}, not '{of}'")
            continue
        file = _file_template(nodes, fields["file"], what)
        queries_file = None
        if "queries_file" in fields:
            queries_file = _file_name(nodes, fields["queries_file"], f"queries_file of {what}")
            if of in (GOLD, META):
                nodes.fail(fields["queries_file"], f"{what}: a bundle of {of} has no queries file")
        elif of == EMBEDDINGS:
            nodes.fail(item, f"{what}: the embeddings need a 'queries_file' (the gold standards read it)")
        layout = _layout(nodes, fields, "datasets", of, what, item)
        queries_layout = None
        if "queries_datasets" in fields:
            queries_layout = _layout(nodes, fields, "queries_datasets", of, f"the queries of {what}", item)
            if queries_file is None:
                nodes.fail(fields["queries_datasets"], f"{what}: 'queries_datasets' needs a 'queries_file'")
        allowed = labels + ([queries_label] if queries_file else [])
        publish = []
        for entry in nodes.sequence(fields["publish"], f"publish of {what}"):
            label = nodes.text(entry, f"a label in publish of {what}")
            if label not in allowed:
                nodes.fail(entry, f"'{label}' in publish of {what} is not one of its bundles "
                                  f"({', '.join(allowed)})")
            elif label in publish:
                nodes.fail(entry, f"'{label}' is listed twice in publish of {what}")
            else:
                publish.append(label)
        for name in [file.replace(SUBSET_PLACEHOLDER, label) for label in labels] + [queries_file]:
            if name and name in files:
                nodes.fail(fields["file"], f"{what}: the file name '{name}' is also a file of bundle "
                                           f"'{files[name]}'")
            files[name] = kind_id
        kinds.append(BundleKind(kind_id, of, file, queries_file, layout, queries_layout, tuple(publish),
                                nodes.origin(item)))
    _check_kinds(nodes, node, kinds, recall_k)
    return tuple(kinds)


def _file_template(nodes: YamlNodes, node: yaml.Node, what: str) -> str:
    template = _file_name(nodes, node, f"file of {what}")
    if template and template.count(SUBSET_PLACEHOLDER) != 1:
        nodes.fail(node, f"file of {what} must hold '{SUBSET_PLACEHOLDER}' once (where the subset label goes)")
    elif "{" in template.replace(SUBSET_PLACEHOLDER, "") or "}" in template.replace(SUBSET_PLACEHOLDER, ""):
        nodes.fail(node, f"file of {what} may use no placeholder but '{SUBSET_PLACEHOLDER}'")
    return template


def _file_name(nodes: YamlNodes, node: yaml.Node, what: str) -> str:
    name = nodes.text(node, what)
    if name and (any(c in name for c in "/\\") or not name.isprintable() or name in (".", "..")
                 or name != name.strip()):
        nodes.fail(node, f"{what} '{name}' must be a plain file name (no folder, no control character)")
    return name


def _layout(nodes: YamlNodes, fields: dict[str, yaml.Node], key: str, of: str, what: str,
            item: yaml.Node) -> Layout:
    if of == META:
        if key != "columns" and "columns" not in fields:
            nodes.fail(item, f"{what}: a metadata table lists its 'columns'")
            return Layout()
        if "datasets" in fields:
            nodes.fail(fields["datasets"], f"{what}: a metadata table has 'columns', not 'datasets'")
        columns = [_label(nodes, c, f"a column of {what}")
                   for c in nodes.sequence(fields["columns"], f"columns of {what}")]
        if not columns or len(set(columns)) != len(columns):
            nodes.fail(fields["columns"], f"columns of {what} must list at least one column, each once")
        return Layout(columns=tuple(columns))
    if "columns" in fields:
        nodes.fail(fields["columns"], f"{what}: only a metadata table has 'columns'")
    if key not in fields:
        nodes.fail(item, f"{what} lacks the required key '{key}'")
        return Layout()
    datasets = []
    for entry in nodes.sequence(fields[key], f"{key} of {what}"):
        spec = nodes.mapping(entry, f"a dataset of {what}", ("key", "dtype", "cols"))
        if spec and len(spec) == 3:
            datasets.append(DatasetLayout(_label(nodes, spec["key"], "key"), nodes.text(spec["dtype"], "dtype"),
                                          nodes.count(spec["cols"], "cols", maximum=100_000)))
    problem = _layout_problem(of, datasets)
    if problem:
        nodes.fail(fields[key], f"{key} of {what}: {problem}")
    return Layout(datasets=tuple(datasets))


def _layout_problem(of: str, datasets: list[DatasetLayout]) -> str | None:
    """What is wrong with the datasets a computation is asked to write, or None."""
    keys = [d.key for d in datasets]
    if len(set(keys)) != len(keys):
        return "a key is given twice"
    for d in datasets:
        if d.dtype not in _ALL_DTYPES:  # checked before numpy ever parses it: "(2)f" or "i4,i4" are dtypes too
            return f"'{d.dtype}' is not a numpy dtype a bundle can be stored as ({', '.join(_ALL_DTYPES)})"
    if of == GOLD:
        roles = sorted((_role(d.dtype), d.cols) for d in datasets)
        if len(datasets) != 2 or [r for r, _ in roles] != ["distances", "ids"] or roles[0][1] != roles[1][1]:
            return (f"a gold standard has two datasets of the same cols: ids ({' or '.join(_DTYPES['ids'])}) "
                    f"and distances ({' or '.join(_DTYPES['distances'])})")
        return None
    if len(datasets) != 1:
        return f"a bundle of {of} has exactly one dataset"
    (d,) = datasets
    if d.dtype not in _DTYPES[of]:
        return f"a bundle of {of} is stored as {' or '.join(_DTYPES[of])}, not {d.dtype}"
    if of == EMBEDDINGS and d.cols != EMBEDDING_DIM:
        return f"the embeddings have {EMBEDDING_DIM} columns, not {d.cols}"
    if of == PCA and d.cols > EMBEDDING_DIM:
        return f"a projection has at most {EMBEDDING_DIM} columns, not {d.cols}"
    return None


def _role(dtype: str) -> str:
    for role in ("ids", "distances"):
        if dtype in _DTYPES[role]:
            return role
    return dtype


def _check_kinds(nodes: YamlNodes, node: yaml.Node, kinds: list[BundleKind], recall_k: int) -> None:
    """The kinds together: one source of embeddings, one sketch model, a gold standard to score
    the recall table against."""
    count = {of: sum(kind.of == of for kind in kinds) for of in COMPUTATIONS}
    if count[EMBEDDINGS] != 1:
        nodes.fail(node, f"bundles must hold exactly one bundle of embeddings, not {count[EMBEDDINGS]}")
    if count[SKETCHES] > 1:
        nodes.fail(node, "bundles may hold at most one bundle of sketches (one BinWalk model)")
    dims = [kind.layout.cols for kind in kinds if kind.of == PCA]
    if len(set(dims)) != len(dims):
        nodes.fail(node, "two bundles of pca have the same number of columns")
    projections = count[PCA] + count[SKETCHES]
    golds = [kind.layout.cols for kind in kinds if kind.of == GOLD and kind.layout.cols]
    if projections and not any(k >= recall_k for k in golds):
        nodes.fail(node, f"the recall table needs a gold standard of at least recall k = {recall_k} columns")


def _pca(nodes: YamlNodes, node: yaml.Node, labels: set[str]) -> str:
    fields = nodes.mapping(node, "pca", ("train",)) or {}
    if "train" not in fields:
        return ""
    train = nodes.text(fields["train"], "the PCA training subset")
    if train not in labels:
        nodes.fail(fields["train"], f"the PCA training subset '{train}' is not one of the subsets")
    return train


def _sketches(nodes: YamlNodes, node: yaml.Node, folder: Path, refs: int) -> SketchSettings:
    fields = nodes.mapping(node, "sketches", (), ("model", "create")) or {}
    if ("model" in fields) == ("create" in fields):
        nodes.fail(node, "sketches needs exactly one of 'model' (the official file) or 'create'")
        return SketchSettings(None, 0, 1)
    if "model" in fields:
        return SketchSettings(folder / nodes.text(fields["model"], "the sketch model path"), 0, 1)
    create = nodes.mapping(fields["create"], "sketches create", ("seed", "sample_rows")) or {}
    if len(create) < 2:
        return SketchSettings(None, 0, 1)
    settings = SketchSettings(None, nodes.count(create["seed"], "the sketch seed", minimum=0),
                              nodes.count(create["sample_rows"], "the sketch sample rows"))
    if settings.sample_rows < refs:
        nodes.fail(create["sample_rows"], f"the sketch sample rows must be at least the {refs} references "
                                          "(64 per column of the sketches)")
    return settings


def _recall(nodes: YamlNodes, node: yaml.Node) -> int:
    fields = nodes.mapping(node, "recall", ("k",)) or {}
    return nodes.count(fields["k"], "recall k") if "k" in fields else 1


def _sample(nodes: YamlNodes, node: yaml.Node) -> SampleSettings:
    fields = nodes.mapping(node, "sample", ("parts", "rows", "clusters", "seed")) or {}
    if len(fields) < 4:
        return SampleSettings(1, 1, 1, 0)
    return SampleSettings(nodes.count(fields["parts"], "sample parts", maximum=9999),
                          nodes.count(fields["rows"], "sample rows", maximum=10**8),
                          nodes.count(fields["clusters"], "sample clusters", maximum=10**6),
                          nodes.count(fields["seed"], "sample seed", minimum=0))


# --- the wording of the page ---------------------------------------------------------------

def read_wording(path: Path) -> Wording:
    return parse_wording(read_text(Path(path)), str(path))


def parse_wording(text: str, path: str) -> Wording:
    root = compose(text, path, "the page wording")
    nodes = YamlNodes(path)
    top = nodes.mapping(root, "the page wording", ("subsets", "queries", "groups", "links"), ("warnings",))
    if top is None or nodes.problems:
        raise InputError(nodes.problems)
    phrases = nodes.mapping(top["subsets"], "subsets", NSFW_RULES) or {}
    subset_phrases = {rule: _template(nodes, value, f"the phrase of {rule} subsets", SUBSET_NAMES)
                      for rule, value in phrases.items()}
    wording = Wording(
        path=path,
        subset_phrases=subset_phrases,
        queries_phrase=_template(nodes, top["queries"], "the queries phrase", GLOBAL_NAMES),
        groups=_groups(nodes, top["groups"]),
        warnings=_warnings(nodes, top["warnings"]) if "warnings" in top else (),
        links=_links(nodes, top["links"]))
    if nodes.problems:
        raise InputError(nodes.problems)
    return wording


def _links(nodes: YamlNodes, node: yaml.Node) -> Links:
    fields = nodes.mapping(node, "links", LINK_NAMES) or {}
    urls = {name: nodes.text(fields[name], f"the link '{name}'") if name in fields else "" for name in LINK_NAMES}
    for name, url in urls.items():
        if url and not is_http_url(url):
            nodes.fail(fields[name], f"the link '{name}' '{url}' is not an http(s) URL")
    return Links(**urls)


def _template(nodes: YamlNodes, node: yaml.Node, what: str, allowed: frozenset[str]) -> str:
    text = nodes.text(node, what)
    try:
        unknown = sorted(set(placeholders(text)) - allowed)
    except ValueError as exc:
        nodes.fail(node, f"{what}: {exc}")
        return text
    if unknown:
        nodes.fail(node, f"{what} uses {', '.join('{' + u + '}' for u in unknown)}; it may use "
                         f"{', '.join('{' + a + '}' for a in sorted(allowed))}")
    return text


def _groups(nodes: YamlNodes, node: yaml.Node) -> dict[str, GroupWording]:
    groups = {}
    for group_id, _, value in nodes.pairs(node, "groups"):
        what = f"group '{group_id}'"
        fields = nodes.mapping(value, what, ("title", "intro", "database"), ("queries",))
        if fields is None or not {"title", "intro", "database"} <= fields.keys():
            continue
        groups[group_id] = GroupWording(
            group_id,
            _template(nodes, fields["title"], f"the title of {what}", GLOBAL_NAMES),
            _template(nodes, fields["intro"], f"the intro of {what}", GLOBAL_NAMES),
            _template(nodes, fields["database"], f"the database description of {what}", DESCRIPTION_NAMES),
            _template(nodes, fields["queries"], f"the queries description of {what}", DESCRIPTION_NAMES)
            if "queries" in fields else None,
            nodes.origin(value))
    return groups


def _warnings(nodes: YamlNodes, node: yaml.Node) -> tuple[Admonition, ...]:
    warnings = []
    for item in nodes.sequence(node, "warnings"):
        fields = nodes.mapping(item, "a warning", ("id", "level", "title", "text"))
        if fields is None or len(fields) < 4:
            continue
        level = nodes.text(fields["level"], "level")
        if level not in ADMONITION_LEVELS:
            nodes.fail(fields["level"], f"level '{level}' is not one of {', '.join(ADMONITION_LEVELS)}")
        warnings.append(Admonition(nodes.text(fields["id"], "id"), level,
                                   _template(nodes, fields["title"], "the title of a warning", GLOBAL_NAMES),
                                   _template(nodes, fields["text"], "the text of a warning", GLOBAL_NAMES)))
    return tuple(warnings)
