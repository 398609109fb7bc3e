"""Reader of the official BinWalk model (docs/design/data.md#binwalk-sketches), a JLD2 file, which is HDF5.

The root dataset `model` is a compound of object references: `refs` (itself a compound
whose `matrix` field refers to a (n_refs, dim) float32 dataset, one unit reference per
row as h5py sees Julia's column-major matrix) and `pool` (a (groups, 64) int32 dataset of
1-based reference indices, a permutation of all references).
"""
from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from generator.errors import InputError
from generator.pipeline.model import BinWalkModel

UNIT_TOLERANCE = 1e-3


def read_binwalk_model(path: Path) -> BinWalkModel:
    """The model in `path`; InputError naming the file for anything unexpected."""
    path = Path(path)
    try:
        with h5py.File(path, "r") as file:
            refs, pool = _datasets(file, path)
            refs, pool = refs[()], pool[()]
    except OSError as exc:
        raise InputError.at(path, f"cannot read as a JLD2/HDF5 BinWalk model: {exc}") from None
    return _checked(path, refs, pool)


def _datasets(file: h5py.File, path: Path) -> tuple[h5py.Dataset, h5py.Dataset]:
    model = file.get("model")
    if not isinstance(model, h5py.Dataset) or model.dtype.names is None:
        raise InputError.at(path, "no compound dataset 'model' at the root: not a BinWalk model")
    if set(model.dtype.names) != {"refs", "pool"}:
        raise InputError.at(path, f"'model' has fields {list(model.dtype.names)}, "
                                  "expected 'refs' and 'pool'")
    record = model[()]
    refs = record["refs"]
    if getattr(refs.dtype, "names", None) != ("matrix",):
        raise InputError.at(path, "'model.refs' is not a compound with one field 'matrix'")
    return _dereference(file, refs["matrix"], "model.refs.matrix", path), \
        _dereference(file, record["pool"], "model.pool", path)


def _dereference(file: h5py.File, reference: object, name: str, path: Path) -> h5py.Dataset:
    if not isinstance(reference, h5py.Reference) or not reference:
        raise InputError.at(path, f"'{name}' is not an object reference")
    target = file[reference]
    if not isinstance(target, h5py.Dataset):
        raise InputError.at(path, f"'{name}' does not refer to a dataset")
    return target


def _checked(path: Path, refs: np.ndarray, pool: np.ndarray) -> BinWalkModel:
    if refs.ndim != 2 or refs.dtype != np.float32:
        raise InputError.at(path, f"references are {refs.dtype} {refs.shape}, "
                                  "expected a float32 matrix (n_refs, dim)")
    if pool.ndim != 2 or pool.shape[1] != 64 or pool.dtype.kind not in "iu":
        raise InputError.at(path, f"pool is {pool.dtype} {pool.shape}, expected integers (groups, 64)")
    n_refs = refs.shape[0]
    if pool.size != n_refs or not np.array_equal(np.sort(pool, axis=None), np.arange(1, n_refs + 1)):
        raise InputError.at(path, f"pool is not a permutation of the reference indices 1..{n_refs}")
    norms = np.linalg.norm(refs.astype(np.float64), axis=1)
    bad = np.flatnonzero(~(np.abs(norms - 1) <= UNIT_TOLERANCE))
    if bad.size:
        raise InputError.at(path, f"reference {bad[0] + 1} has norm {norms[bad[0]]!r}, "
                                  "expected unit references")
    return BinWalkModel(refs=refs, pool=pool.astype(np.int64) - 1)
