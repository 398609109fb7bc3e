"""Writers of LAION parts (the synthetic sample): npy and parquet, byte-deterministic.

A part file is replaced only when its bytes change, so re-running `make sample`
leaves the files (and their times) alone and `make artifacts` has nothing to redo.
"""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from generator.models.pipeline import npy_path, parquet_path
from generator.outputs.files import atomic_output


def write_part(folder: Path, number: int, embeddings: np.ndarray, metadata: pa.Table) -> None:
    npy = io.BytesIO()
    np.save(npy, embeddings, allow_pickle=False)
    parquet = io.BytesIO()
    pq.write_table(metadata, parquet)
    _write_if_changed(npy_path(folder, number), npy.getvalue())
    _write_if_changed(parquet_path(folder, number), parquet.getvalue())


def _write_if_changed(final: Path, content: bytes) -> None:
    if final.is_file() and final.stat().st_size == len(content) and final.read_bytes() == content:
        return
    with atomic_output(final) as temporary:
        temporary.write_bytes(content)
