"""Cut a LAION2B-en subset from the original parts: the NSFW rule, then the parts concatenated in order.

Reads the parts in the layout of the mirror of LAION2B-en,

    PARTS/img_emb/img_emb_0000.npy                    (rows x 768 float16, a plain .npy file)
    PARTS/laion2B-en-metadata/metadata_0000.parquet   (one row per embedding, same order)

one part at a time, and writes the embeddings of the kept rows, in part and row order, to one
HDF5 file holding the dataset `emb` (float16, rows x 768): the layout of the published
laion2B-en-clip768v2-n=SUBSET.h5 files.

  strict: keep a row only if its NSFW value is present and not "NSFW"
          (the database subsets 10M, 30M and 100M: parts 0001..0011, ..0033, ..0111)
  dev:    drop only the rows marked "NSFW" (missing values are kept) and stop after --rows rows
          (the development subsets 100K and 300K: part 0001)

Memory holds one part's NSFW column and one block of rows, never a subset. The output is
written under a temporary name and renamed when complete: an interrupted or failed run leaves
no partial file behind.

Tested with Python 3.11, numpy 2.4.6, pyarrow 26.0.1 and h5py 3.16.0.

    python nsfw_filter.py --parts laion2b --first 1 --last 11 --rule strict --out laion2B-en-clip768v2-n=10M.h5
    python nsfw_filter.py --parts laion2b --first 1 --last 1 --rule dev --rows 300000 --out dev-300K.h5
"""
from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import h5py
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

DIM = 768
KEY = "emb"
BLOCK_ROWS = 65536


class FilterError(Exception):
    """A problem with the parts or the arguments, reported as one line."""


def npy_path(parts: Path, number: int) -> Path:
    return parts / "img_emb" / f"img_emb_{number:04d}.npy"


def parquet_path(parts: Path, number: int) -> Path:
    return parts / "laion2B-en-metadata" / f"metadata_{number:04d}.parquet"


def kept_rows(nsfw: pa.ChunkedArray, rule: str) -> np.ndarray:
    """Indices of the rows of one part that `rule` keeps, from its NSFW column.

    Parameters: nsfw (the part's NSFW column, text with nulls), rule ("strict" or "dev").
    Returns: int64 row indices, ascending.
    Example: kept_rows(pa.chunked_array([["UNLIKELY", None, "NSFW"]]), "dev") -> array([0, 1])
    """
    not_nsfw = pc.not_equal(pc.cast(nsfw, pa.string()), "NSFW")
    keep = pc.fill_null(not_nsfw, rule == "dev")  # a missing value: kept by dev, dropped by strict
    return np.flatnonzero(keep.to_numpy(zero_copy_only=False))


def selections(parts: Path, first: int, last: int, rule: str, rows: int | None) -> Iterator[tuple[int, np.ndarray]]:
    """(part number, kept row indices) in subset order; with `rows`, stops once that many are kept."""
    remaining = rows
    for number in range(first, last + 1):
        metadata = parquet_path(parts, number)
        if not metadata.is_file():
            raise FilterError(f"{metadata}: no such metadata part")
        kept = kept_rows(pq.read_table(metadata, columns=["NSFW"]).column("NSFW"), rule)
        if remaining is not None:
            kept = kept[:remaining]
            remaining -= len(kept)
        yield number, kept
        if remaining == 0:
            return
    if rows is not None and remaining:
        raise FilterError(f"parts {first}..{last} hold only {rows - remaining:,} rows the {rule} rule keeps, "
                          f"not the {rows:,} asked for")


def embeddings(parts: Path, number: int, expected_rows: int) -> np.ndarray:
    """The part's embeddings as a memory map, checked against the shape the subset needs."""
    path = npy_path(parts, number)
    if not path.is_file():
        raise FilterError(f"{path}: no such embeddings part")
    array: np.ndarray = np.load(path, mmap_mode="r")
    if array.dtype != np.float16 or array.ndim != 2 or array.shape[1] != DIM:
        raise FilterError(f"{path}: holds {array.dtype} {array.shape}, not float16 rows of {DIM}")
    if array.shape[0] != expected_rows:
        raise FilterError(f"{path}: has {array.shape[0]:,} rows but its metadata part has {expected_rows:,}")
    return array


def write_subset(parts: Path, first: int, last: int, rule: str, rows: int | None, out: Path) -> int:
    """Writes the subset to `out` (two passes over the NSFW columns: count, then copy); returns its rows."""
    total = sum(len(kept) for _, kept in selections(parts, first, last, rule, rows))
    temporary = out.with_name(f".{out.name}.partial")
    try:
        with h5py.File(temporary, "w", libver="earliest") as file:
            dataset = file.create_dataset(KEY, shape=(total, DIM), dtype=np.float16, track_times=False)
            position = 0
            for number, kept in selections(parts, first, last, rule, rows):
                part = embeddings(parts, number, pq.read_metadata(parquet_path(parts, number)).num_rows)
                for start in range(0, len(kept), BLOCK_ROWS):
                    block = kept[start:start + BLOCK_ROWS]
                    dataset[position:position + len(block)] = part[block]
                    position += len(block)
                print(f"part {number:04d}: {len(kept):,} rows kept", file=sys.stderr)
        os.replace(temporary, out)
    finally:
        temporary.unlink(missing_ok=True)
    return total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--parts", type=Path, required=True, help="folder holding img_emb/ and laion2B-en-metadata/")
    parser.add_argument("--first", type=int, required=True, help="first part number (1 for every subset)")
    parser.add_argument("--last", type=int, required=True, help="last part number")
    parser.add_argument("--rule", choices=("strict", "dev"), required=True, help="the NSFW rule")
    parser.add_argument("--rows", type=int, default=None, help="dev rule: stop after this many rows")
    parser.add_argument("--out", type=Path, required=True, help="the HDF5 file to write")
    args = parser.parse_args(argv)
    if (args.rule == "dev") != (args.rows is not None):
        parser.error("--rows goes with --rule dev, and only with it")
    if not 0 <= args.first <= args.last:
        parser.error("the parts must be 0 <= --first <= --last")
    try:
        total = write_subset(args.parts, args.first, args.last, args.rule, args.rows, args.out)
    except (FilterError, OSError, pa.ArrowException) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"{args.out}: {total:,} rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
