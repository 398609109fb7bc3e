"""BinWalk sketches with the official model equal a bit-by-bit reading of docs/design/data.md#binwalk-sketches, and a
row's sketch is the same bytes in any block and with any number of workers."""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import h5py
import numpy as np
import pytest

from generator.errors import InputError
from generator.pipeline import blas, sketches
from generator.pipeline.binwalk import read_binwalk_model
from generator.pipeline.model import BinWalkModel
from generator.pipeline.sketches import create_binwalk_model, sketch
from generator.pipeline.vectors import DegenerateVectorError
from tests.conftest import OFFICIAL_BINWALK as OFFICIAL

DIM = 768
# docs/design/data.md#binwalk-sketches: bits closer than this may differ between correct implementations
CLEAR_MARGIN = 1e-5


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


@pytest.mark.parametrize("workers", [1, 3])
def test_a_row_alone_in_blocks_of_7_or_in_one_block_gives_the_same_bytes(monkeypatch, workers):
    rng = np.random.default_rng(14)
    sample = vectors(rng, 1100)
    model = read_binwalk_model(OFFICIAL)
    whole = sketch(model, sample)
    alone = np.concatenate([sketch(model, sample[i:i + 1]) for i in range(40)])
    np.testing.assert_array_equal(alone, whole[:40])
    monkeypatch.setattr(blas, "blas_threads", lambda: workers)
    monkeypatch.setattr(sketches, "SKETCH_ROWS", 7)
    np.testing.assert_array_equal(sketch(model, sample), whole)
    # The same values as float32 (a query file) give the same bytes too.
    np.testing.assert_array_equal(sketch(model, sample[:50].astype(np.float32)), whole[:50])


def exact_bit(x: np.ndarray, this: np.ndarray, after: np.ndarray) -> bool:
    """The bit of docs/design/data.md#binwalk-sketches in exact rational arithmetic: dot(this, x) > dot(after, x)."""
    return sum(Fraction(float(a)) * Fraction(float(b) - float(c)) for a, b, c in zip(x, this, after)) > 0


def test_bits_float32_cannot_decide_are_the_exact_answer():
    """Every bit whose float32 similarities lie within 1e-4 of each other (where BLAS
    rounding could flip it) equals the exact rational answer."""
    rng = np.random.default_rng(16)
    block = vectors(rng, 40)
    model = read_binwalk_model(OFFICIAL)
    words = sketch(model, block)
    rows = block.astype(np.float32)
    checked = 0
    for g in range(model.groups):
        refs = model.refs[model.pool[g]]
        sims = rows @ refs.T
        close = np.argwhere(np.abs(sims - np.roll(sims, -1, axis=1)) < 1e-4)
        for row, j in close[:4]:
            expected = exact_bit(rows[row], refs[j], refs[(j + 1) % 64])
            assert bool((int(words[row, g]) >> int(j)) & 1) == expected, (row, g, j)
            checked += 1
    assert checked >= 10


def test_exactly_equal_similarities_clear_the_bit():
    """References repeated in the walk: v[j] == v[j+1] exactly for every row, so bit j is
    clear (v[j] < v[j+1] is false), whatever the rounding of the product."""
    rng = np.random.default_rng(17)
    refs = vectors(rng, 64).astype(np.float32)
    refs /= np.linalg.norm(refs, axis=1, keepdims=True)
    refs[1::2] = refs[0::2]
    model = BinWalkModel(refs=refs, pool=np.arange(64)[None, :])
    block = vectors(rng, 30)
    words = sketch(model, block)
    for row in range(len(block)):
        assert all(not (int(words[row, 0]) >> j) & 1 for j in range(0, 64, 2)), row


def test_a_degenerate_row_is_named():
    model = read_binwalk_model(OFFICIAL)
    block = vectors(np.random.default_rng(18), 10)
    block[4] = 0
    with pytest.raises(DegenerateVectorError, match="row 104 has norm"):
        sketch(model, block, first_row=100)


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
