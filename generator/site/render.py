"""Rendering of the datasets page with jinja2 (autoescaped) and writing it in place."""
from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any, Mapping, Sequence

import jinja2
from markupsafe import Markup, escape

from generator.io.files import atomic_write_text
from generator.manifests.model import human_size
from generator.site.commands import TOOLS, block_commands
from generator.manifests.index import IndexDataset
from generator.site.model import DownloadBlock, EditionLink, Page, PageRow
from generator.site.snippets import julia_snippet, python_load

# Python-Markdown's backslash escapes (a character outside this set would keep its backslash);
# `>` is left to HTML escaping, which turns it into an entity Markdown does not read.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!])")


def markdown_text(value: object) -> Markup:
    """Text shown literally inside Markdown: one line, Markdown and HTML specials neutralised."""
    one_line = " ".join(str(value).split())
    return Markup(str(escape(_MARKDOWN_SPECIAL.sub(r"\\\1", one_line))).replace("|", "&#124;"))


def shell_word(value: object) -> Markup:
    """A shell-quoted word for a fenced command block (Markdown escapes HTML inside fences)."""
    return Markup(shlex.quote(str(value)))


def commands_text(block: DownloadBlock, tool: str, index_url: str) -> Markup:
    """A block's commands for a fenced block (see generator.site.commands for their escaping)."""
    return Markup(block_commands(block, tool, index_url))


def _datasets(row: PageRow) -> list[IndexDataset]:
    return [IndexDataset(d.key, d.dtype, d.shape) for d in row.layout.datasets]


def load_python(rows: Sequence[PageRow]) -> Markup:
    """Python loading the HDF5 files of `rows` (see generator.site.snippets), for a fenced block."""
    return Markup(python_load([(row.name, _datasets(row)) for row in rows if row.layout.datasets]))


def load_julia(row: PageRow) -> Markup:
    return Markup(julia_snippet(row.name, _datasets(row)))


def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("generator.site", "templates"), autoescape=True,
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    env.filters.update(md=markdown_text, shell=shell_word, human=human_size,
                       commands=commands_text, load_python=load_python, load_julia=load_julia)
    env.globals["tools"] = TOOLS
    return env


def render_page(page: Page, published: list[str]) -> str:
    """The page's Markdown; `published` are the files published beside it, which it links."""
    return environment().get_template("datasets.md.j2").render(page=page, published=published)


def with_croissant(markdown: str, croissant: Mapping[str, Any] | None) -> str:
    """The page with its Croissant description in its metadata block for MkDocs (added to the
    block the template writes, or in one of its own), where the theme's override
    (docs/overrides/main.html) takes it into the page's head as JSON-LD.

    Example: with_croissant("---\\nhide: [toc]\\n---\\n# T\\n", {"name": "R"}) ==
             '---\\ncroissant: {"name":"R"}\\nhide: [toc]\\n---\\n# T\\n'
    """
    if croissant is None:
        return markdown
    line = f"croissant: {json.dumps(croissant, ensure_ascii=True, separators=(',', ':'))}\n"
    if markdown.startswith("---\n"):
        return "---\n" + line + markdown[len("---\n"):]
    return f"---\n{line}---\n\n{markdown}"


def write_page(page: Page, path: Path, published: list[str], croissant: Mapping[str, Any] | None = None) -> None:
    atomic_write_text(path, with_croissant(render_page(page, published), croissant))


def write_editions_page(editions: tuple[EditionLink, ...], path: Path) -> None:
    """The page listing every edition's datasets page, newest first."""
    atomic_write_text(path, environment().get_template("editions.md.j2").render(editions=editions))
