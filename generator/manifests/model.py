"""The manifests (docs/design/releases.md#manifests): their file names, the URL rule, sizes, entries with their
origin, one
manifest, a folder's set."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Generic, Iterable, TypeVar
from urllib.parse import urlsplit

from generator.errors import InputError, Origin, Problem

T = TypeVar("T")

# The manifest files of a folder (docs/design/releases.md#manifests); the bytes manifest is the exact,
# machine-readable sizes.
URLS_FILE = "dataset-files-urls.txt"
SIZES_FILE = "dataset-files-size.txt"
BYTES_FILE = "dataset-files-bytes.txt"
MD5_FILE = "dataset-files-md5.txt"
MANIFEST_FILES = (MD5_FILE, SIZES_FILE, BYTES_FILE, URLS_FILE)


def is_http_url(text: str) -> bool:
    """Whether `text` is an http(s) URL with a host (and a valid port, if any): the only links the
    project offers or follows. White space and control characters are never part of one."""
    if any(ch.isspace() or not ch.isprintable() for ch in text):
        return False
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - reading it is what checks it (a number from 0 to 65535)
    except ValueError:  # an unclosed IPv6 bracket, a port that is not a number
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)

# ASCII digits only, and few enough that no number is converted before it is known to be a
# size at all (a pasted number of hundreds of digits is refused, not turned into a float).
_SIZE_VALUE = re.compile(r"^([0-9]{1,20}(?:\.[0-9]{1,6})?)([KMGTPE]?)(i?B)?$", re.IGNORECASE)
_UNIT_POWER = {"": 0, "K": 1, "M": 2, "G": 3, "T": 4, "P": 5, "E": 6}
# The largest size a file system reports (a signed 64-bit offset).
MAX_FILE_BYTES = 2**63 - 1
# A human-readable size (`147G`, `77MB`) is rounded, by `du -h` up to its last digit, by other
# tools to the nearest or in units of 1000: a file within this share of it (or within one unit
# of its last digit, for sizes such as `1.0K`) agrees with it.
APPROXIMATE_SIZE_TOLERANCE = 0.05


# How the project writes sizes, for people and for the index: a file's size as `du -h` prints it,
# a total of several files to three significant digits; both in powers of 1024.
SIZE_UNITS = ("K, M, G and T are powers of 1024 bytes (KiB, MiB, GiB, TiB); a file's size is written as "
              "du -h writes it (one decimal below 10, rounded up), a total of files to three significant "
              "digits (rounded to the nearest); bytes are exact")


def _in_units(n_bytes: int) -> tuple[float, str]:
    """`n_bytes` (1024 or more) in the largest power of 1024 that leaves at least 1: (value, unit)."""
    value, unit = float(n_bytes), ""
    for unit in "KMGTPE":  # noqa: B007 (the unit the loop stops at is the answer)
        value /= 1024
        if value < 1024:
            break
    return value, unit


def human_total(n_bytes: int) -> str:
    """A total of several files' bytes, rounded once to three significant digits in powers of 1024.

    Example: human_total(19_380_000_000) == "18.0G" (a du -h style sum of rounded-up sizes would
    say 19G); human_total(1023) == "1023".
    """
    if n_bytes < 1024:
        return str(n_bytes)
    value, unit = _in_units(n_bytes)
    digits = 2 if value < 10 else 1 if value < 100 else 0
    return f"{value:.{digits}f}{unit}"


def human_size(n_bytes: int) -> str:
    """`du -h` style: 1024-based, one decimal below 10, rounded up so a size is never understated."""
    if n_bytes < 1024:
        return str(n_bytes)
    value, unit = _in_units(n_bytes)
    if value < 10:
        tenths = -(-round(value * 10, 6) // 1)
        return f"{tenths / 10:.1f}{unit}" if tenths < 100 else f"{int(tenths // 10)}{unit}"
    return f"{int(-(-round(value, 6) // 1))}{unit}"


@dataclass(frozen=True)
class Size:
    """A file size as a manifest states it: exact bytes, or a `du -h` style approximation."""

    text: str
    bytes: int
    exact: bool
    rounding: int = field(default=0, compare=False, repr=False)  # bytes in one unit of the last digit

    @classmethod
    def parse(cls, text: str) -> "Size":
        match = _SIZE_VALUE.match(text)
        if not match:
            shown = text if len(text) <= 40 else text[:37] + "..."
            raise ValueError(f"'{shown}' is not a size (expected e.g. 147G, 7.7M, 77MB or a byte count)")
        number, unit, suffix = match.groups()
        power = _UNIT_POWER[unit.upper()]
        if power == 0 and "." not in number and (suffix is None or suffix.upper() == "B"):
            size = cls(text=text, bytes=int(number), exact=True)
        elif power == 0:
            raise ValueError(f"'{text}' is not a size (a byte count has no decimals)")
        else:
            last_digit = 10.0 ** -len(number.partition(".")[2]) * 1024**power
            size = cls(text=text, bytes=round(float(number) * 1024**power), exact=False,
                       rounding=round(last_digit))
        if size.bytes > MAX_FILE_BYTES:
            raise ValueError(f"'{text}' is larger than any file can be ({MAX_FILE_BYTES:,} bytes)")
        return size

    def _margin(self) -> int:
        return 0 if self.exact else max(round(APPROXIMATE_SIZE_TOLERANCE * self.bytes), self.rounding)

    @property
    def least(self) -> int:
        """The fewest bytes a file of this size can hold (the size itself, when exact)."""
        return max(0, self.bytes - self._margin())

    @property
    def most(self) -> int:
        """The most bytes a file of this size can hold (the size itself, when exact)."""
        return self.bytes + self._margin()

    def admits(self, n_bytes: int) -> bool:
        return self.least <= n_bytes <= self.most


@dataclass(frozen=True)
class Entry(Generic[T]):
    """One manifest line: the file's basename, the name as written, the value and where it is."""

    name: str
    written_name: str
    value: T
    origin: Origin


@dataclass(frozen=True)
class Manifest(Generic[T]):
    """The entries of one manifest file, grouped by basename in file order."""

    kind: str
    path: str
    by_name: dict[str, tuple[Entry[T], ...]] = field(default_factory=dict)

    def get(self, name: str) -> Entry[T] | None:
        entries = self.by_name.get(name)
        return entries[0] if entries else None

    def names(self) -> list[str]:
        return list(self.by_name)

    def conflicts(self, name: str | None = None) -> list[Problem]:
        """A problem for every repeated listing (of `name`, or of any name) whose value differs."""
        problems = []
        for listed in [name] if name is not None else list(self.by_name):
            entries = self.by_name.get(listed, ())
            for again in entries[1:]:
                first = entries[0]
                if again.value != first.value:
                    problems.append(Problem(again.origin, (
                        f"'{listed}' is listed twice with different {self.kind} values: "
                        f"'{_show(first.value)}' at line {first.origin.line} and "
                        f"'{_show(again.value)}' at line {again.origin.line}")))
        return problems


def _show(value: object) -> str:
    return value.text if isinstance(value, Size) else str(value)


@dataclass(frozen=True)
class ManifestSet:
    """The manifests of one folder. `exact_sizes` is the optional byte-exact size manifest."""

    urls: Manifest[str]
    sizes: Manifest[Size]
    md5s: Manifest[str]
    exact_sizes: Manifest[Size] | None = None

    def size_of(self, name: str) -> Entry[Size] | None:
        """The exact size when a manifest knows it, else the human-readable one."""
        for manifest in (self.exact_sizes, self.sizes):
            entry = manifest.get(name) if manifest else None
            if entry and entry.value.exact:
                return entry
        return self.sizes.get(name) or (self.exact_sizes.get(name) if self.exact_sizes else None)

    def manifests(self) -> list[Manifest[Any]]:
        return [m for m in (self.urls, self.sizes, self.exact_sizes, self.md5s) if m is not None]

    def conflicts(self, name: str | None = None) -> list[Problem]:
        return [problem for manifest in self.manifests() for problem in manifest.conflicts(name)]


# What every reader of the manifests does with a name listed twice with different values, when
# it goes on despite it (docs/design/failures.md#strict-and-lenient-rendering).
FIRST_WINS = "the first entry is used"


def judged_conflicts(manifests: ManifestSet, names: Iterable[str], strict: bool) -> list[Problem]:
    """The one rule of the site, download and verify for a name of `names` listed twice with
    different values in a manifest: strict, an InputError with a problem per conflict, at the
    second entry's line and naming both lines; lenient, the problems, for the caller to show as
    warnings, and every reader then takes the name's first entry (Manifest.get).

    Example: judged_conflicts(manifests, ["a.h5"], strict=True) raises "md5.txt:4: 'a.h5' is
    listed twice with different md5 values: '...' at line 1 and '...' at line 4".
    """
    problems = [problem for name in dict.fromkeys(names) for problem in manifests.conflicts(name)]
    if strict and problems:
        raise InputError(problems)
    return problems
