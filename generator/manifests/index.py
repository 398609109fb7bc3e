"""The index of an edition's published bundles, `datasets.json`: every bundle with its URL, sizes,
md5, layout, subset, query set, group and origin in one JSON document. The site writes it beside the
datasets page; the participants' `download` and `verify` read it instead of the manifests, so a
site's URL is all they need. Its JSON Schema is `docs/datasets.schema.json`, published with it.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Iterable

from generator.errors import InputError, Origin, Problem
from generator.manifests.model import (BYTES_FILE, MD5_FILE, SIZE_UNITS, SIZES_FILE, URLS_FILE, Entry, Manifest,
                                       ManifestSet, Size, is_http_url)
from generator.manifests.write import md5_lines, size_lines

INDEX_FILE = "datasets.json"
SCHEMA_FILE = "datasets.schema.json"
# Raised when a change would make an older reader misread the index.
FORMAT = 1

_MD5 = re.compile(r"^[0-9a-f]{32}$")
HDF5, TSV = "hdf5", "tsv"


@dataclass(frozen=True)
class IndexDataset:
    """One HDF5 dataset: key, numpy dtype, shape (None: a dimension not known before it is built)."""

    key: str
    dtype: str
    shape: tuple[int | None, ...]


@dataclass(frozen=True)
class IndexEntry:
    """One published bundle. A value the inputs do not state for certain is None: `url` and `md5`
    when missing or contradicted, `bytes` unless the exact size is known, `size` (as `du -h`
    prints it) when no size is known."""

    name: str
    group: str
    subset: str
    url: str | None
    bytes: int | None
    size: str | None
    md5: str | None
    datasets: tuple[IndexDataset, ...] = ()
    columns: tuple[str, ...] = ()
    origin: str = "built"
    queries: str | None = None


# Where a bundle comes from (see the release model): built for this edition, reused from an
# earlier one (same URL and md5), or external (made outside the project, listed and verified).
ORIGINS = ("built", "reused", "external")


@dataclass(frozen=True)
class DatasetIndex:
    """The bundles of one edition, in page order; `source` is where the index was read from."""

    release: str
    bundles: tuple[IndexEntry, ...]
    source: str = ""
    edition: str = ""


# --- writer --------------------------------------------------------------------------------

def _layout_json(entry: IndexEntry) -> dict[str, Any]:
    if entry.columns:
        return {"format": TSV, "columns": list(entry.columns)}
    return {"format": HDF5, "datasets": [{"key": d.key, "dtype": d.dtype, "shape": list(d.shape)}
                                         for d in entry.datasets]}


def index_json(index: DatasetIndex) -> str:
    bundles = [{"name": e.name, "group": e.group, "subset": e.subset, "queries": e.queries, "origin": e.origin,
                "url": e.url, "bytes": e.bytes, "size": e.size, "md5": e.md5, "layout": _layout_json(e)}
               for e in index.bundles]
    document = {"format": FORMAT, "release": index.release, "edition": index.edition, "size_units": SIZE_UNITS,
                "bundles": bundles}
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def manifest_texts(index: DatasetIndex) -> dict[str, str]:
    """The manifests of the index's bundles, keyed by file name, in the formats this project writes
    (`md5sum -c` takes the md5 one as it is); the exact size manifest only when a size is exact."""
    texts = {
        MD5_FILE: md5_lines((e.name, e.md5) for e in index.bundles if e.md5),
        SIZES_FILE: "".join(f"{e.size} {e.name}\n" for e in index.bundles if e.size),
        URLS_FILE: "".join(f"{e.url}\n" for e in index.bundles if e.url),
    }
    exact = [(e.name, e.bytes) for e in index.bundles if e.bytes is not None]
    if exact:
        texts[BYTES_FILE] = size_lines(exact, exact=True)
    return texts


# --- reader --------------------------------------------------------------------------------

class _Fields:
    """Typed access to one JSON object, recording each problem under its JSON path."""

    def __init__(self, problems: list[str], where: str, value: object) -> None:
        self.problems, self.where = problems, where
        self.value = value if isinstance(value, dict) else {}
        if not isinstance(value, dict):
            self.fail("must be an object")

    def fail(self, message: str, key: str | None = None) -> None:
        self.problems.append(f"{self.where}{'.' + key if key else ''} {message}")

    def get(self, key: str, kind: type | tuple[type, ...], nullable: bool = False) -> Any:
        value = self.value.get(key)
        if value is None and nullable and key in self.value:
            return None
        if not isinstance(value, kind) or isinstance(value, bool) or value == "":
            names: dict[object, str] = {str: "a non-empty text", int: "a whole number", list: "a list"}
            expected = names.get(kind, "a value")
            self.fail(f"must be {expected}{' or null' if nullable else ''}", key)
            return None
        return value


def _plain_name(name: str) -> bool:
    return name not in (".", "..") and "/" not in name and "\\" not in name and name.isprintable()


def _entry(problems: list[str], number: int, value: object) -> IndexEntry | None:
    before = len(problems)
    fields = _Fields(problems, f"bundles[{number}]", value)
    name, group, subset = (fields.get(key, str) for key in ("name", "group", "subset"))
    url, size, md5 = (fields.get(key, str, nullable=True) for key in ("url", "size", "md5"))
    n_bytes = fields.get("bytes", int, nullable=True)
    if name and not _plain_name(name):
        fields.fail(f"'{name}' is not a plain file name", "name")
    if url and not is_http_url(url):
        fields.fail(f"'{url}' is not an http(s) URL; only http and https downloads are accepted", "url")
    if md5 and not _MD5.match(md5.lower()):
        fields.fail(f"'{md5}' is not 32 hexadecimal digits", "md5")
    if n_bytes is not None and n_bytes < 0:
        fields.fail("must not be negative", "bytes")
    if size and _size(size) is None:
        fields.fail(f"'{size}' is not a size (e.g. 147G, 7.7M or a byte count)", "size")
    origin = fields.value.get("origin", "built")
    if origin not in ORIGINS:
        fields.fail(f"must be one of {', '.join(ORIGINS)}", "origin")
    queries = fields.get("queries", str, nullable=True) if "queries" in fields.value else None
    layout = _Fields(problems, f"bundles[{number}].layout", fields.value.get("layout"))
    datasets, columns = _layout(layout)
    if len(problems) > before:
        return None
    return IndexEntry(name, group, subset, url, n_bytes, size, md5.lower() if md5 else None, datasets, columns,
                      origin, queries)


def _layout(layout: _Fields) -> tuple[tuple[IndexDataset, ...], tuple[str, ...]]:
    kind = layout.get("format", str)
    if kind == TSV:
        columns = layout.get("columns", list) or []
        if not all(isinstance(c, str) for c in columns):
            layout.fail("must list texts", "columns")
        return (), tuple(columns)
    if kind != HDF5:
        if kind:
            layout.fail(f"must be '{HDF5}' or '{TSV}', not '{kind}'", "format")
        return (), ()
    datasets = []
    for number, item in enumerate(layout.get("datasets", list) or []):
        dataset = _Fields(layout.problems, f"{layout.where}.datasets[{number}]", item)
        key, dtype, shape = dataset.get("key", str), dataset.get("dtype", str), dataset.get("shape", list) or []
        if not all(n is None or (isinstance(n, int) and not isinstance(n, bool) and n >= 0) for n in shape):
            dataset.fail("must list whole numbers (or null where unknown)", "shape")
        datasets.append(IndexDataset(key or "", dtype or "", tuple(shape)))
    return tuple(datasets), ()


def parse_index(text: str, source: str) -> DatasetIndex:
    """The index in `text`; every problem is reported at once, under its JSON path."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError([Problem(Origin(source, exc.lineno), f"not valid JSON: {exc.msg}")]) from None
    except RecursionError:
        raise InputError.at(source, "the index is nested too deeply to be read") from None
    except ValueError as exc:  # a number of more digits than Python converts (sys.set_int_max_str_digits)
        raise InputError.at(source, f"not a readable index: {exc}") from None
    problems: list[str] = []
    top = _Fields(problems, "the index", document)
    if top.value and top.value.get("format") != FORMAT:
        raise InputError.at(source, f"index format {top.value.get('format')!r} is not the format {FORMAT} this "
                                    f"version reads (a newer laion2b may read it)")
    release = top.get("release", str)
    edition = top.get("edition", str) if "edition" in top.value else ""
    bundles = top.get("bundles", list) or []
    entries = [_entry(problems, number, item) for number, item in enumerate(bundles)]
    names = [e.name for e in entries if e]
    problems += [f"'{name}' is listed twice" for name in sorted({n for n in names if names.count(n) > 1})]
    if problems:
        raise InputError(Problem(Origin(source), message) for message in problems)
    return DatasetIndex(release, tuple(entry for entry in entries if entry is not None), source, edition or "")


def index_manifests(index: DatasetIndex) -> ManifestSet:
    """The index as the manifests the download and verify tools read; every value's origin is
    the index itself."""
    origin = Origin(index.source)

    def manifest(kind: str, values: Iterable[tuple[str, object]]) -> Manifest[Any]:
        return Manifest(kind, index.source, {name: (Entry(name, name, value, origin),)
                                             for name, value in values if value is not None})

    bundles = index.bundles
    return ManifestSet(
        urls=manifest("url", ((e.name, e.url) for e in bundles)),
        sizes=manifest("size", ((e.name, _size(e.size) if e.size else None) for e in bundles)),
        md5s=manifest("md5", ((e.name, e.md5) for e in bundles)),
        exact_sizes=manifest("size", ((e.name, Size(str(e.bytes), e.bytes, True) if e.bytes is not None else None)
                                      for e in bundles)))


def _size(text: str) -> Size | None:
    try:
        return Size.parse(text)
    except (ValueError, OverflowError):  # OverflowError: a number of hundreds of digits
        return None
