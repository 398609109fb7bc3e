"""Checked access to a YAML document's nodes, for the hand-edited YAML inputs.

A document is read as a node tree, not as plain values, so that every key keeps its
line: a misspelt, missing or repeated key is a problem naming that line, never a
silent default. Problems are collected, so one run reports all of them.
"""
from __future__ import annotations

import re

import yaml

from generator.errors import InputError, Origin, Problem
from generator.io.text import control_character

# Counts of rows, parts, dimensions and seeds: far below this, and small enough that a
# number pasted by mistake (thousands of digits) is refused before it is converted.
MAXIMUM_COUNT = 10**15
_DIGITS = re.compile(r"[0-9]{1,16}")
# Text may hold line breaks and tabs (a wording's paragraphs); no other control character.
_TEXT_CONTROLS = "\t\n"


def compose(text: str, path: str, what: str) -> yaml.Node:
    """The root node of a YAML text; invalid YAML or an empty document is an InputError."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow, such as a raw NUL byte
        raise InputError.at(path, f"not valid YAML: the character U+{exc.character:04X} is not allowed",
                            text.count("\n", 0, exc.position) + 1) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise InputError.at(path, f"not valid YAML: {getattr(exc, 'problem', exc)}",
                            mark.line + 1 if mark else None) from None
    except RecursionError:
        raise InputError.at(path, f"{what} is nested too deeply to be read") from None
    if root is None:
        raise InputError.at(path, f"{what} is empty")
    return root


class YamlNodes:
    """Typed access to YAML nodes that records every problem with its line."""

    def __init__(self, path: str):
        self.path = path
        self.problems: list[Problem] = []

    def origin(self, node: yaml.Node) -> Origin:
        return Origin(self.path, node.start_mark.line + 1)

    def fail(self, node: yaml.Node, message: str) -> None:
        self.problems.append(Problem(self.origin(node), message))

    def mapping(self, node: yaml.Node, what: str, required: tuple[str, ...],
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

    def pairs(self, node: yaml.Node, what: str) -> list[tuple[str, yaml.Node, yaml.Node]]:
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

    def sequence(self, node: yaml.Node, what: str) -> list[yaml.Node]:
        if not isinstance(node, yaml.SequenceNode):
            self.fail(node, f"{what} must be a list")
            return []
        return list(node.value)

    def text(self, node: yaml.Node, what: str) -> str:
        if not isinstance(node, yaml.ScalarNode) or not str(node.value).strip():
            self.fail(node, f"{what} must be a non-empty text")
            return ""
        text = str(node.value).strip()
        control = control_character(text, _TEXT_CONTROLS)
        if control is not None:
            self.fail(node, f"{what} holds the control character U+{ord(control):04X}")
            return ""
        return text

    def count(self, node: yaml.Node, what: str, minimum: int = 1, maximum: int = MAXIMUM_COUNT) -> int:
        """A whole number written in ASCII digits, between `minimum` and `maximum`."""
        text = self.text(node, what)
        if not _DIGITS.fullmatch(text) or not minimum <= int(text) <= maximum:
            shown = text if len(text) <= 40 else text[:37] + "..."
            self.fail(node, f"{what} must be a whole number from {minimum} to {maximum:,}, not '{shown}'")
            return minimum
        return int(text)
