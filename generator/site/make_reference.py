"""The maintainers' reference of make targets and variables, generated from the Makefile itself:
each target's `## help` text (what `make help` prints) and each variable's `?=` default with
the comment written above it. The page cannot go stale: `make reference` writes it and a test
checks the committed page equals what this module makes of the Makefile."""
from __future__ import annotations

import re
from dataclasses import dataclass

_TARGET = re.compile(r"^([a-z][a-z-]*):.*?##\s*(.+)$")
_VARIABLE = re.compile(r"^([A-Z][A-Z0-9_]*)\s*\?=\s*(.*)$")
_SECTION = re.compile(r"^#\s*---\s*(.+?)\s*-*$")

HEADER = """\
# Make targets and variables

<!-- Generated from the Makefile by `make reference`: edit the Makefile's comments, not this page. -->

Every target creates the virtual environment it needs on first use. Set a variable on the
command line (`make site STRICT=0`) or in the environment.
"""


@dataclass(frozen=True)
class VariableGroup:
    """Variables set with `?=` one after another, and the comment written right above them."""

    comment: str
    variables: tuple[tuple[str, str], ...]  # (name, default as written)


def make_targets(makefile: str) -> list[tuple[str, str]]:
    """(target, help text) of every rule with a `## help` comment, in Makefile order."""
    return [(m.group(1), m.group(2).strip()) for m in map(_TARGET.match, makefile.splitlines()) if m]


def variable_groups(makefile: str) -> list[VariableGroup]:
    """The Makefile's `?=` variables grouped as written: a group runs from a comment block (or
    the first `?=` line after a blank line) to the next blank line or comment.

    Example: "# Where it goes.\\nOUT ?= build\\nDIR ?=\\n" gives one group, comment
    "Where it goes.", variables (("OUT", "build"), ("DIR", "")).
    """
    groups: list[VariableGroup] = []
    comment: list[str] = []
    variables: list[tuple[str, str]] = []
    described = ""

    def close() -> None:
        if variables:
            groups.append(VariableGroup(described, tuple(variables)))
        variables.clear()

    for line in makefile.splitlines():
        if line.startswith("#"):
            if variables:
                close()
            comment.append(line.lstrip("#").strip())
        elif not line.strip():
            close()
            comment = []
        elif match := _VARIABLE.match(line):
            if not variables:
                described = " ".join(part for part in comment if part)
            comment = []
            variables.append((match.group(1), match.group(2).strip()))
        else:
            comment = []
    close()
    return groups


def notes(makefile: str) -> list[tuple[str, str]]:
    """(title, text) of each comment section of the Makefile: the comments from a line
    `# --- Title ----` to the next blank line (the code between them left out)."""
    found: list[tuple[str, str]] = []
    lines = makefile.splitlines()
    for number, line in enumerate(lines):
        if match := _SECTION.match(line):
            text = []
            for following in lines[number + 1:]:
                if not following.strip():
                    break
                if following.startswith("#"):
                    text.append(following.lstrip("#").strip())
            found.append((match.group(1), " ".join(text)))
    return found


def _cell(text: str) -> str:
    return f"`{text}`" if text else ""


def _markdown(text: str) -> str:
    """Comment text shown as written: no HTML tag (`meta-<subset>.tsv`), no table cell break."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace("|", "&#124;")


def reference_page(makefile: str) -> str:
    """The Markdown page of the Makefile's targets and variables.

    Parameters: makefile, the Makefile's text. Returns the page, ending with a newline.
    Example: reference_page(Path("Makefile").read_text()) is docs/maintainers/make-variables.md.
    """
    lines = [HEADER, "## Targets", "", "| target | what it does |", "|---|---|"]
    lines += [f"| `make {name}` | {_markdown(text)} |" for name, text in make_targets(makefile)]
    lines.append("")
    for title, text in notes(makefile):
        lines += [f"## {title}", "", _markdown(text), ""]
    lines += ["## Variables", ""]
    for group in variable_groups(makefile):
        lines += [f"### {', '.join(name for name, _ in group.variables)}", ""]
        if group.comment:
            lines += [_markdown(group.comment), ""]
        lines += ["| variable | default |", "|---|---|"]
        lines += [f"| `{name}` | {_cell(default)} |" for name, default in group.variables]
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"
