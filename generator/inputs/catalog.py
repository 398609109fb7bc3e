"""Reader of `data/catalog.yml`: the groups, files, file kinds and warnings of the page.

The YAML is read as a node tree so that every key keeps its line: a misspelt or
missing key is an error naming it and its line, never a silent default.
"""
from __future__ import annotations

from pathlib import Path

import yaml

from generator.errors import InputError, Origin, Problem
from generator.inputs.manifests import read_text
from generator.models.catalog import (Admonition, Catalog, CatalogFile, DatasetLayout, FileKind, Group,
                              SubsetRows)

ADMONITION_LEVELS = ("note", "info", "warning", "danger")


class _Nodes:
    """Typed access to YAML nodes that records every problem with its line."""

    def __init__(self, path: str):
        self.path = path
        self.problems: list[Problem] = []

    def origin(self, node: yaml.Node) -> Origin:
        return Origin(self.path, node.start_mark.line + 1)

    def fail(self, node: yaml.Node, message: str) -> None:
        self.problems.append(Problem(self.origin(node), message))

    def mapping(self, node, what: str, required: tuple[str, ...],
                optional: tuple[str, ...] = ()) -> dict[str, yaml.Node] | None:
        if not isinstance(node, yaml.MappingNode):
            self.fail(node, f"{what} must be a mapping of keys to values")
            return None
        fields: dict[str, yaml.Node] = {}
        allowed = required + optional
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if key not in allowed:
                self.fail(key_node, f"unknown key '{key}' in {what} (allowed: {', '.join(allowed)})")
            elif key in fields:
                self.fail(key_node, f"key '{key}' is given twice in {what}")
            else:
                fields[key] = value_node
        for key in required:
            if key not in fields:
                self.fail(node, f"{what} lacks the required key '{key}'")
        return fields

    def pairs(self, node, what: str) -> list[tuple[str, yaml.Node, yaml.Node]]:
        if not isinstance(node, yaml.MappingNode):
            self.fail(node, f"{what} must be a mapping")
            return []
        seen, pairs = set(), []
        for key_node, value_node in node.value:
            key = self.text(key_node, f"a key of {what}")
            if key in seen:
                self.fail(key_node, f"'{key}' is defined twice in {what}")
            seen.add(key)
            pairs.append((key, key_node, value_node))
        return pairs

    def sequence(self, node, what: str) -> list[yaml.Node]:
        if not isinstance(node, yaml.SequenceNode):
            self.fail(node, f"{what} must be a list")
            return []
        return list(node.value)

    def text(self, node, what: str) -> str:
        if not isinstance(node, yaml.ScalarNode) or not str(node.value).strip():
            self.fail(node, f"{what} must be a non-empty text")
            return ""
        return str(node.value).strip()

    def count(self, node, what: str) -> int:
        text = self.text(node, what)
        if not text.isdigit() or int(text) <= 0:
            self.fail(node, f"{what} must be a positive whole number, not '{text}'")
            return 0
        return int(text)


def parse_catalog(text: str, path: str) -> Catalog:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise InputError.at(path, f"not valid YAML: {getattr(exc, 'problem', exc)}",
                            mark.line + 1 if mark else None) from None
    if root is None:
        raise InputError.at(path, "the catalog is empty")
    nodes = _Nodes(path)
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


def _subsets(nodes: _Nodes, node) -> dict[str, SubsetRows]:
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


def _kinds(nodes: _Nodes, node) -> dict[str, FileKind]:
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


def _warnings(nodes: _Nodes, node) -> tuple[Admonition, ...]:
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


def _groups(nodes: _Nodes, node, subsets: dict[str, SubsetRows],
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
