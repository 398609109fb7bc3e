"""Lines of the metadata tables `meta-<subset>.tsv` (docs/design/data.md#metadata-tables).

Fields are escaped so that every object is exactly one line with one field per column:
backslash becomes `\\`, tab `\t`, newline `\n`, carriage return `\r`; a null value is an
empty field. Reading a field back: replace `\t`, `\n`, `\r`, `\\` by the characters they
stand for, scanning left to right.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_UNESCAPES = {"\\": "\\", "t": "\t", "n": "\n", "r": "\r"}


def escape_field(value: str | None) -> str:
    return "" if value is None else str(value).translate(_ESCAPES)


def unescape_field(field: str) -> str:
    out, chars = [], iter(field)
    for char in chars:
        out.append(_UNESCAPES.get(next(chars, ""), "") if char == "\\" else char)
    return "".join(out)


def header_line(names: Sequence[str]) -> str:
    return "\t".join(escape_field(name) for name in names) + "\n"


def meta_lines(columns: Mapping[str, Sequence[str | None]], names: Sequence[str], rows: np.ndarray) -> str:
    """The lines of the selected rows of one part, in row order, with the columns `names`."""
    fields = [columns[name] for name in names]
    return "".join("\t".join(escape_field(column[row]) for column in fields) + "\n" for row in rows.tolist())
