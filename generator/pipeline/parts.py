"""LAION parts (SPEC §2): `img_emb/img_emb_NNNN.npy` and the row-aligned
`laion2B-en-metadata/metadata_NNNN.parquet`, read (and written, for the sample).

`check_parts` reads only headers (npy header and file size, parquet footer), so every
part of a run is checked before any output is started; each problem names its file.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np
import numpy.lib.format as npy_format
import pyarrow as pa
import pyarrow.parquet as pq

from generator.errors import InputError, Origin, Problem
from generator.io.files import write_if_changed
from generator.release.model import EMBEDDING_DIM, NSFW_COLUMN

EMBEDDING_DTYPE = np.dtype(np.float16)
EMBEDDINGS_FOLDER, METADATA_FOLDER = "img_emb", "laion2B-en-metadata"


def npy_path(parts: Path, number: int) -> Path:
    """The embeddings of part `number` in the mirror layout of SPEC §2."""
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
    parts, problems = [], []
    for number in numbers:
        npy, parquet = npy_path(folder, number), parquet_path(folder, number)
        npy_rows = _checked(npy, _npy_rows, problems)
        parquet_rows = _checked(parquet, _parquet_rows, problems)
        if npy_rows is not None and parquet_rows is not None:
            if npy_rows != parquet_rows:
                problems.append(Problem(Origin(str(npy)), f"holds {npy_rows:,} rows but {parquet} holds "
                                                          f"{parquet_rows:,}: the part is not row-aligned"))
            else:
                parts.append(Part(number, npy, parquet, npy_rows))
    if problems:
        raise InputError(problems)
    return parts


def _checked(path: Path, rows_of, problems: list[Problem]) -> int | None:
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
    try:
        metadata = pq.ParquetFile(path).metadata
    except (pa.ArrowException, OSError) as exc:
        raise _BadPart(f"not a readable parquet file ({exc})") from None
    if NSFW_COLUMN not in metadata.schema.names:
        raise _BadPart(f"has no '{NSFW_COLUMN}' column (columns: {', '.join(metadata.schema.names)})")
    return metadata.num_rows


def read_embeddings(part: Part, rows: np.ndarray | slice = slice(None)) -> np.ndarray:
    """Rows of a part's embeddings (float16), read through a memory map so only they are loaded."""
    return np.asarray(np.load(part.npy, mmap_mode="r")[rows])


def read_columns(part: Part, columns: Iterable[str]) -> dict[str, list]:
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


def write_part(folder: Path, number: int, npy: memoryview, metadata: pa.Table) -> None:
    """Writes one part (the npy file's bytes, from npy_image, and the metadata), byte-
    deterministic; an unchanged file is left alone, so re-running `make sample` gives
    make nothing to redo."""
    parquet = io.BytesIO()
    pq.write_table(metadata, parquet)
    write_if_changed(npy_path(folder, number), npy)
    write_if_changed(parquet_path(folder, number), parquet.getvalue())
