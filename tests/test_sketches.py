"""BinWalk sketches with the official model equal a bit-by-bit reading of SPEC §2."""
from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from generator.errors import InputError
from generator.pipeline.binwalk import read_binwalk_model
from generator.pipeline.sketches import create_binwalk_model, sketch
from tests.conftest import OFFICIAL_BINWALK as OFFICIAL

DIM = 768
CLEAR_MARGIN = 1e-5  # SPEC §2: bits closer than this may differ between correct implementations


def official_raw() -> tuple[np.ndarray, np.ndarray]:
    """refs (1024, 768) and 1-based pool (16, 64), read with nothing but h5py."""
    with h5py.File(OFFICIAL, "r") as file:
        record = file["model"][()]
        return file[record["refs"]["matrix"]][()], file[record["pool"]][()]


def slow_sketch(refs: np.ndarray, pool_1based: np.ndarray, x: np.ndarray) -> tuple[list, list]:
    """Per bit: (expected bit or None when the two distances are closer than the margin)."""
    unit = x.astype(np.float32) / np.float32(np.linalg.norm(x.astype(np.float32)))
    words = []
    for group in pool_1based:
        bits = []
        for j in range(64):
            here = np.float32(1) - np.dot(refs[group[j] - 1], unit)
            after = np.float32(1) - np.dot(refs[group[(j + 1) % 64] - 1], unit)
            bits.append(bool(here < after) if abs(float(here) - float(after)) > CLEAR_MARGIN else None)
        words.append(bits)
    return words


def vectors(rng: np.random.Generator, n: int) -> np.ndarray:
    rows = rng.standard_normal((n, DIM)).astype(np.float32)
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float16)


def test_official_model_reads_as_h5py_sees_it():
    refs, pool = official_raw()
    model = read_binwalk_model(OFFICIAL)
    np.testing.assert_array_equal(model.refs, refs)
    np.testing.assert_array_equal(model.pool, pool - 1)
    assert model.refs.shape == (1024, DIM) and model.pool.shape == (16, 64)


def test_sketches_with_the_official_model_match_a_bit_by_bit_reading():
    refs, pool = official_raw()
    rng = np.random.default_rng(11)
    block = np.concatenate([vectors(rng, 5), refs[:2].astype(np.float16)])
    words = sketch(read_binwalk_model(OFFICIAL), block)
    assert words.dtype == np.dtype("<u8") and words.shape == (len(block), 16)
    compared = 0
    for row, x in enumerate(block):
        for g, expected_bits in enumerate(slow_sketch(refs, pool, x)):
            for j, expected in enumerate(expected_bits):
                if expected is not None:
                    assert bool((int(words[row, g]) >> j) & 1) == expected, (row, g, j)
                    compared += 1
    assert compared > 0.95 * len(block) * 1024


def test_bit_j_of_word_g_is_byte_j_over_8_little_endian():
    """A model whose walk is known: bit j set iff v[j] < v[j+1], written as '<u8'."""
    rng = np.random.default_rng(12)
    refs = vectors(rng, 64).astype(np.float32)
    refs /= np.linalg.norm(refs, axis=1, keepdims=True)
    x = refs[5].astype(np.float16)[None, :]
    model = create_binwalk_model(refs, n_refs=64, seed=3)   # every row, in order
    word = int(sketch(model, x)[0, 0])
    position = int(np.flatnonzero(model.pool[0] == 5)[0])
    # x is its own nearest reference: v is smallest there, so the bit before it is clear
    # and its own bit is set.
    assert (word >> position) & 1 == 1
    assert (word >> ((position - 1) % 64)) & 1 == 0
    raw = sketch(model, x).tobytes()
    assert raw == word.to_bytes(8, "little")


def test_created_model_is_seeded_and_well_formed():
    rng = np.random.default_rng(13)
    sample = vectors(rng, 3000)
    first, again, other = (create_binwalk_model(sample, seed=s) for s in (7, 7, 8))
    np.testing.assert_array_equal(first.refs, again.refs)
    np.testing.assert_array_equal(first.pool, again.pool)
    assert not np.array_equal(first.pool, other.pool)
    assert first.refs.dtype == np.float32 and first.refs.shape == (1024, DIM)
    np.testing.assert_allclose(np.linalg.norm(first.refs, axis=1), 1, atol=1e-6)
    np.testing.assert_array_equal(np.sort(first.pool, axis=None), np.arange(1024))
    assert first.pool.shape == (16, 64)
    assert sketch(first, sample[:10]).shape == (10, 16)


def test_created_model_needs_enough_rows():
    with pytest.raises(ValueError, match="at least 1024 sample rows"):
        create_binwalk_model(vectors(np.random.default_rng(0), 100))


def test_sketch_in_any_block_split_is_the_same(monkeypatch):
    from generator.pipeline import sketches
    rng = np.random.default_rng(14)
    sample = vectors(rng, 1100)
    model = create_binwalk_model(sample, seed=1)
    whole = sketch(model, sample)
    monkeypatch.setattr(sketches, "SKETCH_ROWS", 7)
    np.testing.assert_array_equal(sketch(model, sample), whole)


def write_model(path: Path, refs, pool) -> None:
    """A file with the JLD2 layout of the official model."""
    with h5py.File(path, "w") as file:
        matrix = file.create_dataset("_refs", data=refs)
        groups = file.create_dataset("_pool", data=pool)
        kind = np.dtype([("refs", np.dtype([("matrix", h5py.ref_dtype)])), ("pool", h5py.ref_dtype)])
        file.create_dataset("model", data=np.array(((matrix.ref,), groups.ref), dtype=kind))


def small_model_arrays():
    refs = vectors(np.random.default_rng(15), 128).astype(np.float32)
    refs /= np.linalg.norm(refs, axis=1, keepdims=True)
    return refs, (np.random.default_rng(1).permutation(128) + 1).reshape(2, 64).astype(np.int32)


def test_a_file_in_the_official_layout_reads(tmp_path):
    refs, pool = small_model_arrays()
    write_model(tmp_path / "m.jld2", refs, pool)
    model = read_binwalk_model(tmp_path / "m.jld2")
    np.testing.assert_array_equal(model.refs, refs)
    np.testing.assert_array_equal(model.pool, pool - 1)


@pytest.mark.parametrize("damage, message", [
    (lambda refs, pool: (refs, np.where(pool == 5, 6, pool)), "not a permutation"),
    (lambda refs, pool: (refs * 2, pool), "reference 1 has norm"),
    (lambda refs, pool: (refs.astype(np.float64), pool), "expected a float32 matrix"),
    (lambda refs, pool: (refs, pool.reshape(4, 32)), r"expected integers \(groups, 64\)"),
])
def test_bad_models_are_errors_naming_the_file(tmp_path, damage, message):
    path = tmp_path / "bad.jld2"
    write_model(path, *damage(*small_model_arrays()))
    with pytest.raises(InputError, match=message) as error:
        read_binwalk_model(path)
    assert str(error.value).startswith(str(path))


def test_a_file_that_is_not_a_model_is_an_error_naming_it(tmp_path):
    text = tmp_path / "model.jld2"
    text.write_text("not hdf5\n")
    with pytest.raises(InputError, match="cannot read as a JLD2/HDF5 BinWalk model") as error:
        read_binwalk_model(text)
    assert str(text) in str(error.value)
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as file:
        file["emb"] = np.zeros((2, 2))
    with pytest.raises(InputError, match="no compound dataset 'model'"):
        read_binwalk_model(other)
    with pytest.raises(InputError, match="cannot read"):
        read_binwalk_model(tmp_path / "missing.jld2")
