"""Readers of the release definitions (data/releases/EDITION.yml, one per edition) and of the
page's wording (data/page.yml).

Read with `YamlNodes`: every key is checked with its line, so a misspelt key, a part range
backwards, a bundle of an unknown kind or a template naming an unknown placeholder is an
error naming its line. All problems of a file are reported at once. Relative paths (the
BinWalk model) are taken relative to the release file's folder.
"""
from __future__ import annotations

import os
import re
from dataclasses import replace
from pathlib import Path

import yaml

from generator.errors import InputError, Origin
from generator.io.text import read_text
from generator.io.yaml_nodes import YamlNodes, compose
from generator.manifests.model import is_http_url
from generator.release.model import (BUILT, COMPUTATIONS, DEV, DRAWN, EMBEDDING_DIM, EMBEDDINGS, EXTERNAL, GOLD,
                                     META, NSFW_RULES, PCA, PCA_MODEL, QUERIES_PLACEHOLDER, QUERY_SOURCES, REUSED,
                                     SELECTED, SKETCHES, SUBSET_PLACEHOLDER, Admonition, BundleKind, DatasetLayout,
                                     GroupWording, Layout, QuerySet, Release, SampleSettings, Selection,
                                     SketchSettings, Subset, Wording)
from generator.release.model import LINK_NAMES, Links
from generator.release.wording import (CONDITIONS, DESCRIPTION_NAMES, GLOBAL_NAMES, GROUP_NAMES, QUERY_NAMES,
                                      SUBSET_NAMES, placeholders)

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


def read_release(path: Path, _reading: tuple[str, ...] = ()) -> Release:
    """The edition defined in `path`, with the earlier edition it reuses (the file of that id in
    the same folder) read first."""
    return parse_release(read_text(Path(path)), str(path), _reading)


def release_files(folder: Path) -> list[Path]:
    """The release files (editions) of a folder, sorted by name."""
    return sorted(path for path in Path(folder).glob("*.yml") if path.is_file())


def edition_id(path: str | Path) -> str:
    return Path(path).stem


def parse_release(text: str, path: str, _reading: tuple[str, ...] = ()) -> Release:
    root = compose(text, path, "the release definition")
    nodes = YamlNodes(path)
    top = nodes.mapping(root, "the release definition", ("name", "date", "hosts", "host", "subsets", "query_sets",
                                                         "bundles"),
                        ("sample", "reuses", "pca", "sketches", "recall"))
    if top is None or nodes.problems:
        raise InputError(nodes.problems)
    edition = edition_id(path)
    base = _base(nodes, top, path, (*_reading, edition)) if "reuses" in top else None
    hosts = _hosts(nodes, top["hosts"])
    host = nodes.text(top["host"], "host")
    if hosts and host not in dict(hosts):
        nodes.fail(top["host"], f"host '{host}' is not one of the hosts ({', '.join(dict(hosts))})")
    subsets = _subsets(nodes, top["subsets"], base, edition)
    query_sets = _query_sets(nodes, top["query_sets"], {s.label for s in subsets}, base, dict(hosts))
    recall_k, recall_queries, recall_machine = _recall(nodes, top.get("recall"), [q.label for q in query_sets])
    kinds = _bundles(nodes, top["bundles"], [s.label for s in subsets], [q.label for q in query_sets],
                     recall_k, recall_queries, dict(hosts), "recall" in top)
    sketch_kinds = [kind for kind in kinds if kind.of == SKETCHES]
    refs = 64 * sketch_kinds[0].layout.cols if sketch_kinds and sketch_kinds[0].layout.cols else 64
    for needed, computation in (("pca", PCA), ("sketches", SKETCHES)):
        if any(kind.of == computation for kind in kinds) and needed not in top:
            nodes.fail(root, f"bundles of {computation} need the '{needed}' section")
    _check_selections(nodes, top["query_sets"], query_sets, subsets)
    pca_train = _pca(nodes, top["pca"], {s.label for s in subsets}) if "pca" in top else ""
    _check_model_publish(nodes, top["bundles"], kinds, pca_train)
    release = Release(
        path=path,
        edition=edition,
        name=nodes.text(top["name"], "name"),
        date=_date(nodes, top["date"]),
        hosts=hosts,
        host=host,
        subsets=subsets,
        query_sets=query_sets,
        kinds=kinds,
        pca_train=pca_train,
        sketches=(_sketches(nodes, top["sketches"], Path(path).parent, refs) if "sketches" in top
                  else SketchSettings(None, 0, 1)),
        recall_k=recall_k,
        recall_queries=recall_queries,
        recall_machine=recall_machine,
        sample=_sample(nodes, top["sample"]) if "sample" in top else (base.sample if base else None),
        base=base)
    if not nodes.problems:
        _check_reuse(nodes, top, release)
    if nodes.problems:
        raise InputError(nodes.problems)
    return release


def _base(nodes: YamlNodes, top: dict[str, yaml.Node], path: str, reading: tuple[str, ...]) -> Release | None:
    """The earlier edition named by `reuses`, read from its file beside this one."""
    name = nodes.text(top["reuses"], "reuses")
    if not _LABEL.fullmatch(name or ""):
        nodes.fail(top["reuses"], f"reuses '{name}' is not an edition id (the name of a release file without .yml)")
        return None
    if name in reading:
        nodes.fail(top["reuses"], f"editions reuse each other in a cycle: {' -> '.join((*reading, name))}")
        return None
    file = Path(path).parent / f"{name}.yml"
    if not file.is_file():
        nodes.fail(top["reuses"], f"reuses '{name}', but there is no release file {file}")
        return None
    return read_release(file, reading)


def _hosts(nodes: YamlNodes, node: yaml.Node) -> tuple[tuple[str, str], ...]:
    hosts = []
    for name, key_node, value in nodes.pairs(node, "hosts"):
        if not _LABEL.fullmatch(str(name)):
            nodes.fail(key_node, f"host name '{name}' may hold only letters, digits, '-' and '_'")
        url = nodes.text(value, f"the URL of host '{name}'")
        if url and not is_http_url(url):
            nodes.fail(value, f"host '{name}': '{url}' is not an http(s) URL")
        hosts.append((str(name), url.rstrip("/")))
    if not hosts:
        nodes.fail(node, "hosts must name at least one host")
    return tuple(hosts)


def _date(nodes: YamlNodes, node: yaml.Node) -> str:
    text = nodes.text(node, "date")
    if text and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        nodes.fail(node, f"date '{text}' must be written YYYY-MM-DD")
    return text


def _host_name(nodes: YamlNodes, fields: dict[str, yaml.Node], hosts: dict[str, str], what: str) -> str | None:
    if "host" not in fields:
        return None
    name = nodes.text(fields["host"], f"the host of {what}")
    if name not in hosts:
        nodes.fail(fields["host"], f"the host of {what} '{name}' is not one of the hosts ({', '.join(hosts)})")
    return name


def _subsets(nodes: YamlNodes, node: yaml.Node, base: Release | None, edition: str) -> tuple[Subset, ...]:
    subsets, seen = [], set()
    for item in nodes.sequence(node, "subsets"):
        fields = nodes.mapping(item, "a subset", ("label",), ("parts", "rule", "rows", "count", "about", "source"))
        if fields is None or "label" not in fields:
            continue
        label = _label(nodes, fields["label"], "the label of a subset")
        what = f"subset '{label}'"
        if label in seen:
            nodes.fail(fields["label"], f"{what} is defined twice")
        seen.add(label)
        source = nodes.text(fields["source"], f"the source of {what}") if "source" in fields else BUILT
        if source == REUSED:
            subsets.append(_reused_subset(nodes, item, fields, base, label, what))
            continue
        if source == EXTERNAL:
            if {"parts", "rule", "rows"} & fields.keys():
                nodes.fail(item, f"{what}: an external subset is not cut here; give only its size ('count' or 'about')")
            count = nodes.count(fields["count"], f"count of {what}") if "count" in fields else None
            about = nodes.text(fields["about"], f"about of {what}") if "about" in fields else None
            subsets.append(Subset(label, 0, 0, "", None, count, about, nodes.origin(item), EXTERNAL, edition))
            continue
        if source != BUILT:
            nodes.fail(fields["source"], f"the source of {what} must be one of {BUILT}, {REUSED}, {EXTERNAL}, "
                                         f"not '{source}'")
            continue
        if not {"parts", "rule"} <= fields.keys():
            nodes.fail(item, f"{what} needs 'parts' and 'rule' (or 'source: {REUSED}' or '{EXTERNAL}')")
            continue
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
        subsets.append(Subset(label, first, last, rule, rows, count, about, nodes.origin(item), BUILT, edition))
    if not subsets:
        nodes.fail(node, "subsets must list at least one subset")
    return tuple(subsets)


def _reused_subset(nodes: YamlNodes, item: yaml.Node, fields: dict[str, yaml.Node], base: Release | None,
                   label: str, what: str) -> Subset:
    if len(fields) > 2:
        nodes.fail(item, f"{what}: a reused subset is defined by the earlier edition; give only 'label' and 'source'")
    if base is None:
        nodes.fail(item, f"{what} is reused, but the release names no earlier edition ('reuses')")
        return Subset(label, 0, 0, "", None, None, None, nodes.origin(item), REUSED, "")
    try:
        earlier = base.subset(label)
    except KeyError:
        nodes.fail(item, f"{what} is reused, but edition '{base.edition}' has no subset '{label}' "
                         f"({', '.join(base.labels)})")
        return Subset(label, 0, 0, "", None, None, None, nodes.origin(item), REUSED, "")
    edition = earlier.edition if earlier.source == REUSED else base.edition
    return Subset(label, earlier.first_part, earlier.last_part, earlier.rule, earlier.rows, earlier.count,
                  earlier.about, nodes.origin(item), REUSED, edition)


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


_QUERY_FIELDS = {
    DRAWN: ("part", "count", "seed"),
    SELECTED: ("part", "count", "seed", "candidates", "k", "min_sum", "against"),
    REUSED: ("from",),
    EXTERNAL: ("count",),
}


def _query_sets(nodes: YamlNodes, node: yaml.Node, subset_labels: set[str], base: Release | None,
                hosts: dict[str, str]) -> tuple[QuerySet, ...]:
    query_sets: list[QuerySet] = []
    for item in nodes.sequence(node, "query_sets"):
        fields = nodes.mapping(item, "a query set", ("label", "source"),
                               ("part", "count", "seed", "candidates", "k", "min_sum", "against", "from", "host"))
        if fields is None or not {"label", "source"} <= fields.keys():
            continue
        label = _label(nodes, fields["label"], "the label of a query set")
        what = f"query set '{label}'"
        if label in subset_labels:
            nodes.fail(fields["label"], f"the label of {what} is also a subset's label")
        if label in [q.label for q in query_sets]:
            nodes.fail(fields["label"], f"{what} is defined twice")
        source = nodes.text(fields["source"], f"the source of {what}")
        if source not in QUERY_SOURCES:
            nodes.fail(fields["source"], f"the source of {what} must be one of {', '.join(QUERY_SOURCES)}, "
                                         f"not '{source}'")
            continue
        wanted = set(_QUERY_FIELDS[source])
        given = set(fields) - {"label", "source", "host"}
        if given != wanted:
            missing, extra = sorted(wanted - given), sorted(given - wanted)
            nodes.fail(item, f"{what}: a {source} query set takes {', '.join(_QUERY_FIELDS[source])}"
                             + (f"; missing {', '.join(missing)}" if missing else "")
                             + (f"; not {', '.join(extra)}" if extra else ""))
            continue
        host = _host_name(nodes, fields, hosts, what)
        origin = nodes.origin(item)
        if source == REUSED:
            query_sets.append(_reused_query_set(nodes, fields, base, label, what, origin, host))
            continue
        count = nodes.count(fields["count"], f"the count of {what}")
        if source == EXTERNAL:
            query_sets.append(QuerySet(label, source, count, origin, host=host))
            continue
        part = nodes.count(fields["part"], f"the part of {what}", minimum=0, maximum=9999)
        seed = nodes.count(fields["seed"], f"the seed of {what}", minimum=0)
        selection = None
        if source == SELECTED:
            against = nodes.text(fields["against"], f"the subset {what} is filtered against")
            if against not in subset_labels:
                nodes.fail(fields["against"], f"{what} is filtered against '{against}', which is not a subset")
            min_sum = _fraction(nodes, fields["min_sum"], f"min_sum of {what}")
            selection = Selection(nodes.count(fields["candidates"], f"the candidates of {what}"),
                                  nodes.count(fields["k"], f"k of {what}", maximum=100_000), min_sum, against)
            if selection.candidates < count:
                nodes.fail(fields["candidates"],
                           f"{what}: {selection.candidates} candidates cannot give {count} queries")
        query_sets.append(QuerySet(label, source, count, origin, part, seed, selection, host=host))
    if not query_sets:
        nodes.fail(node, "query_sets must list at least one query set")
    return tuple(query_sets)


def _fraction(nodes: YamlNodes, node: yaml.Node, what: str) -> float:
    text = nodes.text(node, what)
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 <= value < float("inf"):
        nodes.fail(node, f"{what} must be a number of at least 0, not '{text}'")
        return 0.0
    return value


def _reused_query_set(nodes: YamlNodes, fields: dict[str, yaml.Node], base: Release | None, label: str, what: str,
                      origin: Origin, host: str | None) -> QuerySet:
    earlier_label = nodes.text(fields["from"], f"the query set {what} reuses")
    if base is None:
        nodes.fail(fields["from"], f"{what} is reused, but the release names no earlier edition ('reuses')")
        return QuerySet(label, REUSED, 1, origin, host=host)
    try:
        earlier = base.query_set(earlier_label)
    except KeyError:
        nodes.fail(fields["from"], f"{what} reuses '{earlier_label}', which is not a query set of edition "
                                   f"'{base.edition}' ({', '.join(base.query_labels)})")
        return QuerySet(label, REUSED, 1, origin, host=host)
    return QuerySet(label, REUSED, earlier.count, origin, earlier.part, earlier.seed, earlier.selection,
                    base.edition, earlier.label, host)


def _check_selections(nodes: YamlNodes, node: yaml.Node, query_sets: tuple[QuerySet, ...],
                      subsets: tuple[Subset, ...]) -> None:
    """A selected query set's part must be in none of the subsets, like every drawn one."""
    used = {part for spec in subsets for part in spec.parts}
    for spec in query_sets:
        if spec.source in (DRAWN, SELECTED) and spec.part in used:
            nodes.fail(node, f"query set '{spec.label}' is taken from part {spec.part}, which a subset also holds")


def _check_reuse(nodes: YamlNodes, top: dict[str, yaml.Node], release: Release) -> None:
    """A file name belongs to one bundle: a reused file's name must not be one of this edition's own."""
    seen: dict[str, str] = {}
    for bundle in release.bundles():
        owner = f"bundle '{bundle.kind.id}' of '{bundle.subset}'"
        if bundle.name in seen:
            nodes.fail(top["bundles"], f"the file name '{bundle.name}' is made by {seen[bundle.name]} and by {owner}")
        seen[bundle.name] = owner


def _bundles(nodes: YamlNodes, node: yaml.Node, labels: list[str], query_labels: list[str], recall_k: int,
             recall_queries: str, hosts: dict[str, str], has_recall: bool) -> tuple[BundleKind, ...]:
    kinds: list[BundleKind] = []
    ids: set[str] = set()
    files: dict[str, str] = {}
    for item in nodes.sequence(node, "bundles"):
        fields = nodes.mapping(item, "a bundle", ("id", "of", "file", "publish"),
                               ("queries_file", "queries_files", "datasets", "queries_datasets", "columns", "queries",
                                "precision", "host"))
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
        queries = None
        if of == GOLD:
            queries = nodes.text(fields["queries"], f"the query set of {what}") if "queries" in fields else \
                (query_labels[0] if query_labels else "")
            if queries not in query_labels:
                nodes.fail(fields.get("queries") or item, f"{what}: '{queries}' is not a query set "
                                                        f"({', '.join(query_labels)})")
        elif "queries" in fields or "precision" in fields:
            nodes.fail(fields.get("queries") or fields["precision"], f"{what}: only a gold standard names "
                                                                       "'queries' and 'precision'")
        file = _file_template(nodes, fields["file"], what, allow_queries=of == GOLD)
        queries_file, queries_files = _queries_files(nodes, fields, of, what, item, query_labels)
        layout = _layout(nodes, fields, "datasets", of, what, item)
        queries_layout = None
        if "queries_datasets" in fields:
            queries_layout = _layout(nodes, fields, "queries_datasets", of, f"the queries of {what}", item)
            if queries_file is None and not queries_files:
                nodes.fail(fields["queries_datasets"], f"{what}: 'queries_datasets' needs a 'queries_file'")
        made_for_queries = [q for q in query_labels
                            if (q in dict(queries_files)) or (queries_file is not None)]
        allowed = labels + made_for_queries
        publish: list[str] = []
        for entry in nodes.sequence(fields["publish"], f"publish of {what}"):
            label = nodes.text(entry, f"a label in publish of {what}")
            if label not in allowed:
                nodes.fail(entry, f"'{label}' in publish of {what} is not one of its bundles "
                                  f"({', '.join(allowed)})")
            elif label in publish:
                nodes.fail(entry, f"'{label}' is listed twice in publish of {what}")
            else:
                publish.append(label)
        names = [file.replace(SUBSET_PLACEHOLDER, label).replace(QUERIES_PLACEHOLDER, queries or "")
                 for label in labels]
        names += [queries_file.replace(QUERIES_PLACEHOLDER, q) for q in query_labels if queries_file and q not in
                  dict(queries_files)] + [name for _, name in queries_files]
        for name in names:
            if name and name in files and files[name] != kind_id:
                nodes.fail(fields["file"], f"{what}: the file name '{name}' is also a file of bundle '{files[name]}'")
            files.setdefault(name, kind_id)
        kinds.append(BundleKind(kind_id, of, file, queries_file, layout, queries_layout, tuple(publish),
                                nodes.origin(item), queries_files, queries,
                                nodes.text(fields["precision"], f"precision of {what}")
                                if "precision" in fields else "",
                                _host_name(nodes, fields, hosts, what)))
    _check_kinds(nodes, node, kinds, recall_k, recall_queries, has_recall)
    return tuple(_with_model_layout(kind, kinds) for kind in kinds)


def pca_model_layout(dims: list[int]) -> Layout:
    """The arrays of a fitted PCA model, per projection dimension d: the mean (768,), the components
    (768, d), one column per dimension by descending eigenvalue, and the eigenvalues (d,), float64."""
    return Layout(datasets=tuple(
        dataset for d in dims for dataset in (
            DatasetLayout(f"pca{d}_mean", "float64", EMBEDDING_DIM, (EMBEDDING_DIM,)),
            DatasetLayout(f"pca{d}_components", "float64", d, (EMBEDDING_DIM, d)),
            DatasetLayout(f"pca{d}_eigenvalues", "float64", d, (d,)))))


def _with_model_layout(kind: BundleKind, kinds: list[BundleKind]) -> BundleKind:
    if kind.of != PCA_MODEL:
        return kind
    return replace(kind, layout=pca_model_layout([k.layout.cols or 0 for k in kinds if k.of == PCA]))


def _queries_files(nodes: YamlNodes, fields: dict[str, yaml.Node], of: str, what: str, item: yaml.Node,
                   query_labels: list[str]) -> tuple[str | None, tuple[tuple[str, str], ...]]:
    """A kind's queries file template (`{queries}` is a query set's label) and its names per query set."""
    queries_file = None
    named: list[tuple[str, str]] = []
    if "queries_file" in fields:
        queries_file = _file_name(nodes, fields["queries_file"], f"queries_file of {what}")
        if QUERIES_PLACEHOLDER not in queries_file and len(query_labels) > 1:
            nodes.fail(fields["queries_file"], f"queries_file of {what} must hold '{QUERIES_PLACEHOLDER}' (the "
                                               "query set's label) when there are several query sets; or name "
                                               "each file under 'queries_files'")
    if "queries_files" in fields:
        for label, key_node, value in nodes.pairs(fields["queries_files"], f"queries_files of {what}"):
            if label not in query_labels:
                nodes.fail(key_node, f"queries_files of {what}: '{label}' is not a query set "
                                     f"({', '.join(query_labels)})")
            named.append((str(label), _file_name(nodes, value, f"the queries file of {what} for '{label}'")))
    if (queries_file is not None or named) and of in (GOLD, META, PCA_MODEL):
        nodes.fail(item, f"{what}: a bundle of {of} has no queries file")
    if of == EMBEDDINGS:
        missing = [q for q in query_labels if queries_file is None and q not in dict(named)]
        if missing:
            nodes.fail(item, f"{what}: the embeddings need a file for every query set (the gold standards read "
                             f"it); none for {', '.join(missing)}")
    return queries_file, tuple(named)


def _file_template(nodes: YamlNodes, node: yaml.Node, what: str, allow_queries: bool = False) -> str:
    template = _file_name(nodes, node, f"file of {what}")
    rest = template.replace(SUBSET_PLACEHOLDER, "")
    if allow_queries:
        rest = rest.replace(QUERIES_PLACEHOLDER, "", 1)
    allowed = f"'{SUBSET_PLACEHOLDER}'" + (f" and '{QUERIES_PLACEHOLDER}'" if allow_queries else "")
    if template and template.count(SUBSET_PLACEHOLDER) != 1:
        nodes.fail(node, f"file of {what} must hold '{SUBSET_PLACEHOLDER}' once (where the subset label goes)")
    elif "{" in rest or "}" in rest:
        nodes.fail(node, f"file of {what} may use no placeholder but {allowed}")
    return template


def _file_name(nodes: YamlNodes, node: yaml.Node, what: str) -> str:
    name = nodes.text(node, what)
    if name and (any(c in name for c in "/\\") or not name.isprintable() or name in (".", "..")
                 or name != name.strip()):
        nodes.fail(node, f"{what} '{name}' must be a plain file name (no folder, no control character)")
    return name


def _layout(nodes: YamlNodes, fields: dict[str, yaml.Node], key: str, of: str, what: str, item: yaml.Node) -> Layout:
    if of == PCA_MODEL:
        for given in ("datasets", "columns"):
            if given in fields:
                nodes.fail(fields[given], f"{what}: the layout of a PCA model follows from the projections; "
                                          f"give no '{given}'")
        return Layout()
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


def _check_kinds(nodes: YamlNodes, node: yaml.Node, kinds: list[BundleKind], recall_k: int, recall_queries: str,
                 has_recall: bool) -> None:
    """The kinds together: one source of embeddings, one sketch model, a gold standard to score
    the recall table against."""
    count = {of: sum(kind.of == of for kind in kinds) for of in COMPUTATIONS}
    if count[EMBEDDINGS] != 1:
        nodes.fail(node, f"bundles must hold exactly one bundle of embeddings, not {count[EMBEDDINGS]}")
    if count[PCA_MODEL] and not count[PCA]:
        nodes.fail(node, "a bundle of pca-model needs a bundle of pca (it is the model of the projections)")
    if count[PCA_MODEL] > 1:
        nodes.fail(node, "bundles may hold at most one bundle of pca-model")
    if count[SKETCHES] > 1:
        nodes.fail(node, "bundles may hold at most one bundle of sketches (one BinWalk model)")
    dims = [kind.layout.cols for kind in kinds if kind.of == PCA]
    if len(set(dims)) != len(dims):
        nodes.fail(node, "two bundles of pca have the same number of columns")
    projections = count[PCA] + count[SKETCHES]
    golds = [kind.layout.cols for kind in kinds
             if kind.of == GOLD and kind.layout.cols and kind.queries == recall_queries]
    if projections and not has_recall:
        nodes.fail(node, "projections need the 'recall' section (the recall table scores them)")
    elif projections and not any(k >= recall_k for k in golds):
        nodes.fail(node, f"the recall table needs a gold standard of the '{recall_queries}' queries of at least "
                         f"recall k = {recall_k} columns")


def _check_model_publish(nodes: YamlNodes, node: yaml.Node, kinds: tuple[BundleKind, ...], train: str) -> None:
    """A PCA model is made for the training subset alone."""
    for kind in kinds:
        if kind.of == PCA_MODEL and set(kind.publish) - {train}:
            nodes.fail(node, f"bundle '{kind.id}' is the model fitted on '{train}': it can be published for "
                             f"'{train}' only, not {', '.join(sorted(set(kind.publish) - {train}))}")


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
        model = folder / nodes.text(fields["model"], "the sketch model path")
        return SketchSettings(Path(os.path.normpath(model)), 0, 1)
    create = nodes.mapping(fields["create"], "sketches create", ("seed", "sample_rows")) or {}
    if len(create) < 2:
        return SketchSettings(None, 0, 1)
    settings = SketchSettings(None, nodes.count(create["seed"], "the sketch seed", minimum=0),
                              nodes.count(create["sample_rows"], "the sketch sample rows"))
    if settings.sample_rows < refs:
        nodes.fail(create["sample_rows"], f"the sketch sample rows must be at least the {refs} references "
                                          "(64 per column of the sketches)")
    return settings


def _recall(nodes: YamlNodes, node: yaml.Node | None, query_labels: list[str]) -> tuple[int, str, str]:
    """Recall k, the query set the recall table is scored with (default: the first) and the
    machine its times were measured on."""
    if node is None:
        return 1, query_labels[0] if query_labels else "", ""
    fields = nodes.mapping(node, "recall", ("k", "machine"), ("queries",)) or {}
    machine = nodes.text(fields["machine"], "the machine of the recall times") if "machine" in fields else ""
    k = nodes.count(fields["k"], "recall k") if "k" in fields else 1
    queries = nodes.text(fields["queries"], "the recall queries") if "queries" in fields else \
        (query_labels[0] if query_labels else "")
    if "queries" in fields and queries not in query_labels:
        nodes.fail(fields["queries"], f"the recall queries '{queries}' are not a query set ({', '.join(query_labels)})")
    return k, queries, machine


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
    top = nodes.mapping(root, "the page wording", ("subsets", "query_sets", "groups", "links"), ("warnings",))
    if top is None or nodes.problems:
        raise InputError(nodes.problems)
    phrases = nodes.mapping(top["subsets"], "subsets", (*NSFW_RULES, EXTERNAL)) or {}
    subset_phrases = {rule: _template(nodes, value, f"the phrase of {rule} subsets", SUBSET_NAMES)
                      for rule, value in phrases.items()}
    queries = nodes.mapping(top["query_sets"], "query_sets", QUERY_SOURCES) or {}
    wording = Wording(
        path=path,
        subset_phrases={rule: text for rule, text in subset_phrases.items() if rule != EXTERNAL},
        external_subset_phrase=subset_phrases.get(EXTERNAL, ""),
        query_phrases={source: _template(nodes, value, f"the phrase of {source} query sets", QUERY_NAMES)
                       for source, value in queries.items()},
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
            _template(nodes, fields["title"], f"the title of {what}", GROUP_NAMES),
            _template(nodes, fields["intro"], f"the intro of {what}", GROUP_NAMES),
            _template(nodes, fields["database"], f"the database description of {what}", DESCRIPTION_NAMES),
            _template(nodes, fields["queries"], f"the queries description of {what}", DESCRIPTION_NAMES)
            if "queries" in fields else None,
            nodes.origin(value))
    return groups


def _warnings(nodes: YamlNodes, node: yaml.Node) -> tuple[Admonition, ...]:
    warnings = []
    for item in nodes.sequence(node, "warnings"):
        fields = nodes.mapping(item, "a warning", ("id", "level", "title", "text"), ("requires",))
        if fields is None or not {"id", "level", "title", "text"} <= fields.keys():
            continue
        requires = [nodes.text(entry, "a fact a warning requires")
                    for entry in nodes.sequence(fields["requires"], "requires")] if "requires" in fields else []
        for name, entry in zip(requires, nodes.sequence(fields["requires"], "requires") if requires else []):
            if name not in CONDITIONS:
                nodes.fail(entry, f"a warning can require {', '.join(sorted(CONDITIONS))}, not '{name}'")
        level = nodes.text(fields["level"], "level")
        if level not in ADMONITION_LEVELS:
            nodes.fail(fields["level"], f"level '{level}' is not one of {', '.join(ADMONITION_LEVELS)}")
        warnings.append(Admonition(nodes.text(fields["id"], "id"), level,
                                   _template(nodes, fields["title"], "the title of a warning", GLOBAL_NAMES),
                                   _template(nodes, fields["text"], "the text of a warning", GLOBAL_NAMES),
                                   tuple(requires)))
    return tuple(warnings)
