"""Readers of the three hand-kept manifests (URLs, sizes, md5 sums), docs/design/releases.md#manifests.

Every value keeps the file and line it came from, so that a problem can be
reported where a maintainer can fix it. Lines that cannot be read at all raise
`InputError` listing every such line; disagreements between lines (the same name
twice with different values) are returned as `Problem`s for the caller to judge.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Callable, Iterator, TypeVar
from urllib.parse import unquote, urlsplit

from generator.errors import InputError, Origin, Problem
from generator.io.text import control_character, read_text
from generator.manifests.model import (BYTES_FILE, MD5_FILE, SIZES_FILE, URLS_FILE, Entry, Manifest, ManifestSet,
                                       Size, is_http_url)

T = TypeVar("T")

_GNU_MD5 = re.compile(r"^\\?([0-9a-fA-F]{32})[ \t]+\*?(.+)$")
_BSD_MD5 = re.compile(r"^MD5 ?\((.+)\) ?= ?([0-9a-fA-F]{32})$")
_SIZE_LINE = re.compile(r"^(\S+)\s+(.+)$")


def _content_lines(text: str) -> Iterator[tuple[int, str]]:
    """Numbered lines with CRLF, surrounding blanks, blank lines and `#` comments removed."""
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.strip()
        if line and not line.startswith("#"):
            yield number, line


def _basename(written: str) -> str:
    return PurePosixPath(written.replace("\\", "/")).name


def _parse(text: str, path: str, kind: str,
           parse_line: Callable[[str], tuple[str, T]]) -> Manifest[T]:
    by_name: dict[str, list[Entry[T]]] = {}
    problems = []
    for number, line in _content_lines(text):
        origin = Origin(path, number)
        try:
            written, value = parse_line(line)
            name = _basename(written)
            if name in ("", ".", ".."):
                raise ValueError(f"'{written}' does not name a file")
            control = control_character(written)
            if control is not None:
                raise ValueError(f"the name holds the control character U+{ord(control):04X}")
        except ValueError as exc:
            problems.append(Problem(origin, str(exc)))
            continue
        by_name.setdefault(name, []).append(Entry(name, written, value, origin))
    if problems:
        raise InputError(problems)
    return Manifest(kind, path, {name: tuple(entries) for name, entries in by_name.items()})


def _md5_line(line: str) -> tuple[str, str]:
    match = _GNU_MD5.match(line)
    if match:
        digest, name = match.groups()
        return name.strip(), digest.lower()
    match = _BSD_MD5.match(line)
    if match:
        name, digest = match.groups()
        return name.strip(), digest.lower()
    raise ValueError("not an md5 line (expected 'HASH  NAME', 'HASH *NAME' or 'MD5 (NAME) = HASH' "
                     "with a 32-digit hex HASH)")


def _size_line(line: str) -> tuple[str, Size]:
    match = _SIZE_LINE.match(line)
    if not match:
        raise ValueError("not a size line (expected 'SIZE NAME')")
    size, name = match.groups()
    return name.strip(), Size.parse(size)


def _url_line(line: str) -> tuple[str, str]:
    if any(ch.isspace() for ch in line):
        raise ValueError(f"'{line}' is not a URL (it contains white space)")
    if not is_http_url(line):
        raise ValueError(f"'{line}' is not an http(s) URL; only http and https downloads are accepted")
    name = unquote(urlsplit(line).path.rsplit("/", 1)[-1])
    if not name:
        raise ValueError(f"'{line}' does not end in a file name")
    return name, line


def parse_md5s(text: str, path: str) -> Manifest[str]:
    return _parse(text, path, "md5", _md5_line)


def parse_sizes(text: str, path: str) -> Manifest[Size]:
    return _parse(text, path, "size", _size_line)


def parse_urls(text: str, path: str) -> Manifest[str]:
    return _parse(text, path, "url", _url_line)


def read_md5s(path: Path) -> Manifest[str]:
    return parse_md5s(read_text(path), str(path))


def read_sizes(path: Path) -> Manifest[Size]:
    return parse_sizes(read_text(path), str(path))


def read_urls(path: Path) -> Manifest[str]:
    return parse_urls(read_text(path), str(path))


def read_manifest_set(folder: Path) -> ManifestSet:
    """Reads the manifests of `folder`; every unreadable line of every file is reported at once."""
    folder = Path(folder)
    readers = {"urls": (URLS_FILE, read_urls), "sizes": (SIZES_FILE, read_sizes),
               "md5s": (MD5_FILE, read_md5s)}
    loaded: dict[str, Any] = {}
    problems: list[Problem] = []
    for key, (filename, reader) in readers.items():
        path = folder / filename
        if not path.is_file():
            problems.append(Problem(Origin(str(path)), "manifest not found"))
            continue
        try:
            loaded[key] = reader(path)
        except InputError as exc:
            problems.extend(exc.problems)
    exact = None
    if (folder / BYTES_FILE).is_file():
        try:
            exact = read_sizes(folder / BYTES_FILE)
        except InputError as exc:
            problems.extend(exc.problems)
    if problems:
        raise InputError(problems)
    return ManifestSet(exact_sizes=exact, **loaded)


# --- reading despite unreadable lines ------------------------------------------------------
# A page rendered with STRICT=0 shows what the manifests do say and marks the rest, so this
# reader keeps every readable line and returns the others as problems, each with the file it
# seems to be about (so that the page can mark that file's row).

@dataclass(frozen=True)
class UnreadableLine:
    """A manifest line (or a whole manifest) left out; `name` is the file it seems to name."""

    kind: str
    name: str | None
    problem: Problem


_PARSERS: dict[str, Callable[[str, str], Manifest[Any]]] = {"url": parse_urls, "size": parse_sizes, "md5": parse_md5s}


def _probable_name(kind: str, line: str) -> str | None:
    """The basename an unreadable line most likely names: a URL's last segment, what stands
    in the parentheses of a BSD line, else the text after the first blank."""
    if kind == "url":
        try:
            path = urlsplit(line).path
        except ValueError:  # the line is unreadable as a URL (an unbalanced bracket): its last segment
            path = line.split("?", 1)[0].split("#", 1)[0]
        return unquote(path.rsplit("/", 1)[-1]) or None
    bsd = re.match(r"^MD5 ?\((.+)\)", line)
    written = bsd.group(1) if bsd else (line.split(None, 1)[1:] or [""])[0]
    return _basename(written.strip().lstrip("*")) or None


def parse_leniently(text: str, path: str, kind: str) -> tuple[Manifest[Any], tuple[UnreadableLine, ...]]:
    """The manifest of every readable line, and the unreadable ones (blanked out and parsed again,
    so that line numbers stay those of the file)."""
    parse = _PARSERS[kind]
    try:
        return parse(text, path), ()
    except InputError as exc:
        bad: dict[int, Problem] = {}
        for problem in exc.problems:
            if problem.origin.line is None:
                raise  # not about a line: nothing of the file is readable
            bad[problem.origin.line] = problem
    lines = text.split("\n")
    kept = "\n".join("" if number in bad else line for number, line in enumerate(lines, start=1))
    unreadable = tuple(UnreadableLine(kind, _probable_name(kind, lines[number - 1].strip()), problem)
                       for number, problem in bad.items())
    return parse(kept, path), unreadable


def _read_leniently(path: Path, kind: str) -> tuple[Manifest[Any], tuple[UnreadableLine, ...]]:
    if not path.is_file():
        missing = Problem(Origin(str(path)), "manifest not found")
        return Manifest(kind, str(path)), (UnreadableLine(kind, None, missing),)
    try:
        text = read_text(path)
    except InputError as exc:
        return Manifest(kind, str(path)), tuple(UnreadableLine(kind, None, problem) for problem in exc.problems)
    return parse_leniently(text, str(path), kind)


def read_manifest_set_leniently(folder: Path) -> tuple[ManifestSet, tuple[UnreadableLine, ...]]:
    """What `read_manifest_set` reads, never failing on the manifests' content: a missing or
    unreadable manifest counts as empty, an unreadable line is left out, and each is returned."""
    folder = Path(folder)
    urls, sizes, md5s = (_read_leniently(folder / name, kind) for name, kind in
                         ((URLS_FILE, "url"), (SIZES_FILE, "size"), (MD5_FILE, "md5")))
    exact = _read_leniently(folder / BYTES_FILE, "size") if (folder / BYTES_FILE).is_file() else (None, ())
    manifests = ManifestSet(urls=urls[0], sizes=sizes[0], md5s=md5s[0], exact_sizes=exact[0])
    return manifests, urls[1] + sizes[1] + md5s[1] + exact[1]
