"""Reading an input file as text, with errors that name the file and the line."""
from __future__ import annotations

import unicodedata
from pathlib import Path

from generator.errors import InputError


def read_text(path: Path) -> str:
    """An input file's text; an unreadable file or undecodable bytes are an error naming where."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise InputError.at(path, f"cannot be read ({exc.strerror or exc})") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError.at(path, f"not UTF-8 text ({exc.reason} at byte {exc.start})", line) from None


def read_first_line(path: Path) -> str:
    """The first line of a UTF-8 text file, without its line end (a TSV header, say)."""
    try:
        with open(path, "rb") as stream:
            data = stream.readline()
    except OSError as exc:
        raise InputError.at(path, f"cannot be read ({exc.strerror or exc})") from None
    try:
        return data.decode("utf-8-sig").rstrip("\r\n")
    except UnicodeDecodeError as exc:
        raise InputError.at(path, f"not UTF-8 text ({exc.reason} at byte {exc.start})", 1) from None


def control_character(text: str, allowed: str = "") -> str | None:
    """The first control character of `text` not in `allowed` (a NUL, an escape, a lone surrogate
    such as "\\ud800"), or None. Such a character cannot be part of a name, a path or a page."""
    return next((ch for ch in text if ch not in allowed and unicodedata.category(ch) in ("Cc", "Cs")), None)
