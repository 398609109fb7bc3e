"""The facts about a release that dataset search engines and loaders read (its Croissant
description, docs/design/releases.md#facts-for-dataset-search): what it is, under which licence,
how to cite it, who made it, and, once published, its date and version. Read from a YAML file of
their own (data/dataset-facts.yml), every key checked."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from generator.errors import InputError
from generator.io.text import read_text
from generator.io.yaml_nodes import YamlNodes, compose
from generator.manifests.model import is_http_url

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_VERSION = re.compile(r"[0-9]+\.[0-9]+\.[0-9]+")


@dataclass(frozen=True)
class Creator:
    """A person or organisation credited with the release; `url` may be empty."""

    name: str
    url: str
    organization: bool


@dataclass(frozen=True)
class ReleaseFacts:
    """What a release is and how it may be used; `date_published` (YYYY-MM-DD) and `version`
    (MAJOR.MINOR.PATCH) are empty until the release is published."""

    description: str
    licenses: tuple[str, ...]
    citation: str
    creators: tuple[Creator, ...]
    keywords: tuple[str, ...]
    date_published: str
    version: str


def read_facts(path: Path) -> ReleaseFacts:
    """The facts of the YAML file at `path`; every problem, with its line, in one InputError.

    Example: read_facts(Path("data/dataset-facts.yml")).licenses[0] is the URL of a licence.
    """
    return parse_facts(read_text(Path(path)), str(path))


def parse_facts(text: str, path: str) -> ReleaseFacts:
    """The facts of a YAML text (see read_facts); `path` names it in problems."""
    root = compose(text, path, "the release facts")
    nodes = YamlNodes(path)
    top = nodes.mapping(root, "the release facts", ("description", "licenses", "citation", "creators"),
                        ("keywords", "date_published", "version"))
    if top is None or nodes.problems:
        raise InputError(nodes.problems)
    licenses = tuple(_url(nodes, node, "a licence") for node in nodes.sequence(top["licenses"], "licenses"))
    if not licenses and not nodes.problems:
        nodes.fail(top["licenses"], "licenses must name at least one licence")
    facts = ReleaseFacts(
        description=nodes.text(top["description"], "the description"),
        licenses=licenses,
        citation=nodes.text(top["citation"], "the citation"),
        creators=tuple(_creator(nodes, node) for node in nodes.sequence(top["creators"], "creators")),
        keywords=tuple(nodes.text(node, "a keyword") for node in nodes.sequence(top["keywords"], "keywords"))
        if "keywords" in top else (),
        date_published=_matching(nodes, top, "date_published", _DATE, "a date YYYY-MM-DD"),
        version=_matching(nodes, top, "version", _VERSION, "a version MAJOR.MINOR.PATCH"))
    if nodes.problems:
        raise InputError(nodes.problems)
    return facts


def _url(nodes: YamlNodes, node: yaml.Node, what: str) -> str:
    url = nodes.text(node, what)
    if url and not is_http_url(url):
        nodes.fail(node, f"{what} '{url}' is not an http(s) URL")
    return url


def _creator(nodes: YamlNodes, node: yaml.Node) -> Creator:
    fields = nodes.mapping(node, "a creator", ("name", "type"), ("url",)) or {}
    kind = nodes.text(fields["type"], "the creator's type") if "type" in fields else ""
    if kind and kind not in ("person", "organization"):
        nodes.fail(fields["type"], f"the creator's type '{kind}' is not 'person' or 'organization'")
    return Creator(name=nodes.text(fields["name"], "the creator's name") if "name" in fields else "",
                   url=_url(nodes, fields["url"], "the creator's url") if "url" in fields else "",
                   organization=kind == "organization")


def _matching(nodes: YamlNodes, top: dict[str, yaml.Node], key: str, pattern: re.Pattern[str], what: str) -> str:
    if key not in top:
        return ""
    text = nodes.text(top[key], key)
    if text and not pattern.fullmatch(text):
        nodes.fail(top[key], f"{key} '{text}' is not {what}")
    return text
