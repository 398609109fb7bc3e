"""LAION parts (docs/design/data.md#parts): `img_emb/img_emb_NNNN.npy` and the row-aligned
`laion2B-en-metadata/metadata_NNNN.parquet`, read (and written, for the sample).

`check_parts` reads the headers (npy header and file size, parquet footer) and the NSFW
column of parts; `check_embedding_rows` reads every embedding row, block by block.
`check_all_parts` does both for every part of a release before a stage writes anything,
and remembers each version of a part it found good, so that the stages of one run (which
make starts as separate processes) read each part once, not once per stage. Each problem
names its file, and its row where it has one (rows counted from 0, as numpy and pyarrow
index them).
"""
from __future__ import annotations

import io
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np
import numpy.lib.format as npy_format
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from generator.errors import InputError, Origin, Problem
from generator.io.files import atomic_write_text, write_if_changed
from generator.io.stamps import FileStamp, settled
from generator.release.model import EMBEDDING_DIM, NSFW_COLUMN

EMBEDDING_DTYPE = np.dtype(np.float16)
EMBEDDINGS_FOLDER, METADATA_FOLDER = "img_emb", "laion2B-en-metadata"
# The values of the NSFW column (docs/design/data.md#nsfw-rules), besides null. Another value (an integer, "nsfw")
# would be kept by the strict rule as if it were "UNLIKELY".
NSFW_VALUES = ("UNLIKELY", "UNSURE", "NSFW")
# Rows of embeddings checked at a time (24 MiB of float16, and as much for their bits).
CHECK_BLOCK_ROWS = 16384
# A float16's bits without its sign order like its magnitude: a row whose largest such value is
# at least infinity's holds an infinite value or NaN, one whose largest is 0 is all zeros.
_MAGNITUDE_BITS, _INFINITY_BITS = np.uint16(0x7FFF), np.uint16(0x7C00)


def npy_path(parts: Path, number: int) -> Path:
    """The embeddings of part `number` in the mirror layout of docs/design/data.md#parts."""
    return Path(parts) / EMBEDDINGS_FOLDER / f"img_emb_{number:04d}.npy"


def parquet_path(parts: Path, number: int) -> Path:
    """The metadata of part `number`, row-aligned with its embeddings."""
    return Path(parts) / METADATA_FOLDER / f"metadata_{number:04d}.parquet"


@dataclass(frozen=True)
class Part:
    number: int
    npy: Path
    parquet: Path
    rows: int


def check_parts(folder: Path, numbers: Iterable[int]) -> list[Part]:
    """The parts `numbers` of `folder`, checked; InputError lists every problem of every part."""
    parts: list[Part] = []
    problems: list[Problem] = []
    for number in numbers:
        npy, parquet = npy_path(folder, number), parquet_path(folder, number)
        npy_rows = _checked(npy, _npy_rows, problems)
        parquet_rows = _checked(parquet, _parquet_rows, problems)
        if npy_rows is not None and parquet_rows is not None:
            if npy_rows != parquet_rows:
                problems.append(Problem(Origin(str(npy)), f"holds {npy_rows:,} rows but {parquet} holds "
                                                          f"{parquet_rows:,}: the part is not row-aligned"))
            elif npy_rows == 0:
                problems.append(Problem(Origin(str(npy)), f"holds 0 rows and so does {parquet}: the part is "
                                                          "empty (a broken export?)"))
            else:
                parts.append(Part(number, npy, parquet, npy_rows))
    if problems:
        raise InputError(problems)
    return parts


def _checked(path: Path, rows_of: Callable[[Path], int], problems: list[Problem]) -> int | None:
    if not path.is_file():
        problems.append(Problem(Origin(str(path)), "part file is missing"))
        return None
    try:
        return rows_of(path)
    except _BadPart as exc:
        problems.append(Problem(Origin(str(path)), str(exc)))
        return None


class _BadPart(Exception):
    pass


def _npy_rows(path: Path) -> int:
    with open(path, "rb") as stream:
        try:
            version = npy_format.read_magic(stream)
            read_header = {(1, 0): npy_format.read_array_header_1_0,
                           (2, 0): npy_format.read_array_header_2_0}.get(version)
            if read_header is None:
                raise ValueError(f"npy format version {version} is not supported")
            shape, fortran_order, dtype = read_header(stream)
        except (ValueError, OSError) as exc:
            raise _BadPart(f"not a readable npy file ({exc})") from None
        header_bytes = stream.tell()
    if dtype != EMBEDDING_DTYPE or fortran_order:
        raise _BadPart(f"holds {dtype}{' (column-major)' if fortran_order else ''}, expected row-major float16")
    if len(shape) != 2 or shape[1] != EMBEDDING_DIM:
        raise _BadPart(f"has shape {shape}, expected (rows, {EMBEDDING_DIM})")
    expected = header_bytes + shape[0] * shape[1] * dtype.itemsize
    actual = path.stat().st_size
    if actual != expected:
        raise _BadPart(f"is truncated or padded: {actual:,} bytes where its header needs {expected:,}")
    return shape[0]


def _parquet_rows(path: Path) -> int:
    """The rows of a metadata part, whose NSFW column is checked on the way."""
    try:
        file = pq.ParquetFile(path)
        if NSFW_COLUMN not in file.schema_arrow.names:
            raise _BadPart(f"has no '{NSFW_COLUMN}' column (columns: {', '.join(file.schema_arrow.names)})")
        column_type = file.schema_arrow.field(NSFW_COLUMN).type
        if not _is_text(column_type):
            raise _BadPart(f"has an '{NSFW_COLUMN}' column of {column_type}, not text "
                           f"({', '.join(NSFW_VALUES)} or empty)")
        nsfw = pc.cast(file.read(columns=[NSFW_COLUMN]).column(NSFW_COLUMN), pa.string())
    except (pa.ArrowException, OSError) as exc:
        raise _BadPart(f"not a readable parquet file ({exc})") from None
    _check_nsfw(nsfw)
    return int(file.metadata.num_rows)


def _is_text(column_type: pa.DataType) -> bool:
    if pa.types.is_dictionary(column_type):
        column_type = column_type.value_type
    return any(test(column_type) for test in (pa.types.is_string, pa.types.is_large_string,
                                                pa.types.is_string_view, pa.types.is_null))


def _check_nsfw(nsfw: pa.ChunkedArray) -> None:
    """Every NSFW value one of those of docs/design/data.md#nsfw-rules, and not all of them missing."""
    if len(nsfw) and nsfw.null_count == len(nsfw):
        # A real part has a value on nearly every row; an empty column is a broken export, and a
        # strict subset cut from it would silently lose the whole part.
        raise _BadPart(f"has no value in its '{NSFW_COLUMN}' column ({len(nsfw):,} rows, all empty): the strict "
                       f"rule would keep none of them and the dev rule all")
    known = pc.or_kleene(pc.is_null(nsfw), pc.is_in(nsfw, value_set=pa.array(NSFW_VALUES)))
    if len(nsfw) and not pc.all(known).as_py():  # pc.all of no value is null, not true
        row = pc.index(known, False).as_py()
        raise _BadPart(f"row {row:,}: the {NSFW_COLUMN} value {nsfw[row].as_py()!r} is not one of "
                       f"{', '.join(NSFW_VALUES)} (or empty)")


def check_embedding_rows(parts: Iterable[Part], on_rows: Callable[[int], object] | None = None) -> None:
    """Every embedding row of `parts` finite and not all zeros (it must be normalised), read in
    blocks through a memory map and tested on the float16 bits, with no float32 copy; InputError
    names the first bad row of each bad part and how many it has. `on_rows(n)` follows the progress."""
    problems = []
    for part in parts:
        embeddings = np.load(part.npy, mmap_mode="r")
        first, count = None, 0
        for start in range(0, part.rows, CHECK_BLOCK_ROWS):
            block = np.asarray(embeddings[start:start + CHECK_BLOCK_ROWS])
            largest = (block.view(np.uint16) & _MAGNITUDE_BITS).max(axis=1)
            bad = np.flatnonzero((largest >= _INFINITY_BITS) | (largest == 0))
            if bad.size and first is None:
                first = start + int(bad[0])
            count += bad.size
            if on_rows:
                on_rows(len(block))
        if first is not None:
            values = embeddings[first]
            what = "is all zeros" if np.isfinite(values).all() else \
                f"holds {'NaN' if np.isnan(values).any() else 'an infinite value'}"
            problems.append(Problem(Origin(str(part.npy)),
                                    f"row {first:,} {what} and cannot be normalised "
                                    f"({count:,} such row{'s' if count > 1 else ''} in the part)"))
    if problems:
        raise InputError(problems)


def check_all_parts(folder: Path, numbers: Iterable[int], memo: Path,
                    on_rows: Callable[[int], object] | None = None) -> list[Part]:
    """`check_parts` and `check_embedding_rows` over `numbers`, reading only the parts whose
    files changed since they were last found good; good parts are remembered in `memo` (a
    folder) only when all of them are, so a failed check leaves nothing behind."""
    numbers = list(numbers)
    remembered = {part.number: part for part in (_remembered(memo, folder, n) for n in numbers) if part}
    started_ns = time.time_ns()
    stamps = {n: _stamps(folder, n) for n in numbers if n not in remembered}
    fresh = check_parts(folder, stamps)
    check_embedding_rows(fresh, on_rows)
    for part in fresh:
        if stamps[part.number] and all(settled(stamp, started_ns) for stamp in stamps[part.number]):
            _remember(memo, part, stamps[part.number])
    return sorted([*remembered.values(), *fresh], key=lambda part: part.number)


def _stamps(folder: Path, number: int) -> tuple[FileStamp, ...]:
    try:
        return tuple(FileStamp.read(path(folder, number)) for path in (npy_path, parquet_path))
    except OSError:
        return ()  # a missing file: check_parts names it, and nothing is remembered


def _memo_file(memo: Path, number: int) -> Path:
    return Path(memo) / f"part-{number:04d}.json"


def _remembered(memo: Path, folder: Path, number: int) -> Part | None:
    """The part as found good before, if its files are still the versions that were read."""
    try:
        entry = json.loads(_memo_file(memo, number).read_text(encoding="utf-8"))
        stamps = _stamps(folder, number)
        if stamps and entry["files"] == [stamp.entry() for stamp in stamps] \
                and [stamp.path for stamp in stamps] == entry["paths"]:
            return Part(number, npy_path(folder, number), parquet_path(folder, number), int(entry["rows"]))
    except (OSError, ValueError, KeyError, TypeError):
        pass  # never remembered, or unreadable: checked again
    return None


def _remember(memo: Path, part: Part, stamps: tuple[FileStamp, ...]) -> None:
    entry = {"paths": [stamp.path for stamp in stamps], "files": [stamp.entry() for stamp in stamps], "rows": part.rows}
    try:
        atomic_write_text(_memo_file(memo, part.number), json.dumps(entry) + "\n")
    except OSError:
        pass  # a convenience: the next stage checks the part again


def read_embeddings(part: Part, rows: np.ndarray | slice = slice(None)) -> np.ndarray:
    """Rows of a part's embeddings (float16), read through a memory map so only they are loaded."""
    return np.asarray(np.load(part.npy, mmap_mode="r")[rows])


def read_columns(part: Part, columns: Iterable[str]) -> dict[str, list[Any]]:
    """Whole metadata columns as Python lists (None for null), checked to exist."""
    columns = list(columns)
    try:
        table = pq.read_table(part.parquet, columns=columns)
    except (pa.ArrowException, OSError) as exc:
        raise InputError.at(part.parquet, f"cannot read columns {', '.join(columns)} ({exc})") from None
    return {name: table.column(name).to_pylist() for name in columns}


def npy_image(rows: int) -> tuple[memoryview, np.ndarray]:
    """The bytes of a part's npy file of `rows` embeddings, and a view of its float16 array
    to fill in place: a sample part is then written without a copy of it."""
    header = io.BytesIO()
    npy_format.write_array_header_1_0(header, {"descr": npy_format.dtype_to_descr(EMBEDDING_DTYPE),
                                               "fortran_order": False, "shape": (rows, EMBEDDING_DIM)})
    offset = len(header.getvalue())
    image = bytearray(offset + rows * EMBEDDING_DIM * EMBEDDING_DTYPE.itemsize)
    image[:offset] = header.getvalue()
    return memoryview(image), np.frombuffer(image, EMBEDDING_DTYPE, offset=offset).reshape(rows, EMBEDDING_DIM)


def write_part(folder: Path, number: int, npy: bytes | memoryview, metadata: pa.Table) -> None:
    """Writes one part (the npy file's bytes, from npy_image, and the metadata), byte-
    deterministic; an unchanged file is left alone, so re-running `make sample` gives
    make nothing to redo."""
    parquet = io.BytesIO()
    pq.write_table(metadata, parquet)
    write_if_changed(npy_path(folder, number), npy)
    write_if_changed(parquet_path(folder, number), parquet.getvalue())
