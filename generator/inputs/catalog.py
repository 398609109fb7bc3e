"""Reader of `data/catalog.yml`: the groups, files, file kinds and warnings of the page.

Read with `YamlNodes`: a misspelt or missing key is an error naming it and its line.
"""
from __future__ import annotations

from pathlib import Path

from generator.errors import InputError
from generator.inputs.text import read_text
from generator.inputs.yaml_nodes import YamlNodes, compose
from generator.models.catalog import (Admonition, Catalog, CatalogFile, DatasetLayout, FileKind, Group,
                              SubsetRows)

ADMONITION_LEVELS = ("note", "info", "warning", "danger")


def parse_catalog(text: str, path: str) -> Catalog:
    root = compose(text, path, "the catalog")
    nodes = YamlNodes(path)
    top = nodes.mapping(root, "the catalog", ("subsets", "kinds", "groups"), ("warnings",))
    if top is None:
        raise InputError(nodes.problems)
    subsets = _subsets(nodes, top.get("subsets"))
    kinds = _kinds(nodes, top.get("kinds"))
    warnings = _warnings(nodes, top["warnings"]) if "warnings" in top else ()
    groups = _groups(nodes, top.get("groups"), subsets, kinds)
    if nodes.problems:
        raise InputError(nodes.problems)
    return Catalog(path, subsets, kinds, warnings, groups)


def read_catalog(path: Path) -> Catalog:
    return parse_catalog(read_text(path), str(path))


def _subsets(nodes: YamlNodes, node) -> dict[str, SubsetRows]:
    subsets = {}
    for label, _, value in nodes.pairs(node, "subsets") if node is not None else []:
        fields = nodes.mapping(value, f"subset '{label}'", (), ("rows", "about"))
        if fields is None:
            continue
        if ("rows" in fields) == ("about" in fields):
            nodes.fail(value, f"subset '{label}' needs exactly one of 'rows' or 'about'")
            continue
        subsets[label] = SubsetRows(
            label,
            rows=nodes.count(fields["rows"], f"rows of subset '{label}'") if "rows" in fields else None,
            about=nodes.text(fields["about"], f"about of subset '{label}'") if "about" in fields else None)
    return subsets


def _kinds(nodes: YamlNodes, node) -> dict[str, FileKind]:
    kinds = {}
    for kind_id, _, value in nodes.pairs(node, "kinds") if node is not None else []:
        what = f"kind '{kind_id}'"
        fields = nodes.mapping(value, what, (), ("datasets", "columns"))
        if fields is None:
            continue
        if ("datasets" in fields) == ("columns" in fields):
            nodes.fail(value, f"{what} needs exactly one of 'datasets' (HDF5) or 'columns' (TSV)")
            continue
        datasets = []
        for item in nodes.sequence(fields["datasets"], f"datasets of {what}") if "datasets" in fields else []:
            dataset = nodes.mapping(item, f"a dataset of {what}", ("key", "dtype", "cols"))
            if dataset and len(dataset) == 3:
                datasets.append(DatasetLayout(nodes.text(dataset["key"], "key"),
                                              nodes.text(dataset["dtype"], "dtype"),
                                              nodes.count(dataset["cols"], "cols")))
        columns = [nodes.text(c, f"a column of {what}")
                   for c in (nodes.sequence(fields["columns"], f"columns of {what}") if "columns" in fields else [])]
        kinds[kind_id] = FileKind(kind_id, tuple(datasets), tuple(columns))
    return kinds


def _warnings(nodes: YamlNodes, node) -> tuple[Admonition, ...]:
    warnings = []
    for item in nodes.sequence(node, "warnings"):
        fields = nodes.mapping(item, "a warning", ("id", "level", "title", "text"))
        if fields is None or len(fields) < 4:
            continue
        level = nodes.text(fields["level"], "level")
        if level not in ADMONITION_LEVELS:
            nodes.fail(fields["level"], f"level '{level}' is not one of {', '.join(ADMONITION_LEVELS)}")
        warnings.append(Admonition(nodes.text(fields["id"], "id"), level,
                                   nodes.text(fields["title"], "title"), nodes.text(fields["text"], "text")))
    return tuple(warnings)


def _groups(nodes: YamlNodes, node, subsets: dict[str, SubsetRows],
            kinds: dict[str, FileKind]) -> tuple[Group, ...]:
    groups, seen_names = [], {}
    for item in nodes.sequence(node, "groups") if node is not None else []:
        fields = nodes.mapping(item, "a group", ("id", "title", "intro", "files"))
        if fields is None or len(fields) < 4:
            continue
        group_id = nodes.text(fields["id"], "the id of a group")
        files = []
        for entry in nodes.sequence(fields["files"], f"files of group '{group_id}'"):
            spec = nodes.mapping(entry, f"a file of group '{group_id}'", ("name", "description", "kind", "rows"))
            if spec is None or len(spec) < 4:
                continue
            name = nodes.text(spec["name"], "name")
            if name in seen_names:
                nodes.fail(spec["name"], f"'{name}' is already listed at line {seen_names[name]}")
            seen_names[name] = nodes.origin(spec["name"]).line
            kind_id, rows_label = nodes.text(spec["kind"], "kind"), nodes.text(spec["rows"], "rows")
            if kind_id not in kinds:
                nodes.fail(spec["kind"], f"kind '{kind_id}' is not defined under 'kinds'")
            if rows_label not in subsets:
                nodes.fail(spec["rows"], f"rows '{rows_label}' is not a subset defined under 'subsets'")
            if kind_id in kinds and rows_label in subsets:
                files.append(CatalogFile(name, nodes.text(spec["description"], "description"),
                                         kinds[kind_id], subsets[rows_label], nodes.origin(spec["name"])))
        groups.append(Group(group_id, nodes.text(fields["title"], "title"),
                            nodes.text(fields["intro"], "intro"), tuple(files), nodes.origin(item)))
    return tuple(groups)
