"""PCA: streamed covariance equals np.cov + eigh; projections equal a float64 reference and
are the float32 nearest to the exact value, the same bytes in any block."""
from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from generator.pipeline import blas, pca
from generator.pipeline.pca import CovarianceAccumulator, project, stacked
from generator.pipeline.vectors import DegenerateVectorError

DIM = 768


SMALL = 64  # the kernels work in any dimension; properties that need many fits use few


def spectrum_rows(dim: int, n: int, seed: int) -> np.ndarray:
    """Float16 unit rows with a clear spectrum: distinct variances along random axes."""
    rng = np.random.default_rng(seed)
    axes = np.linalg.qr(rng.standard_normal((dim, 40)))[0]
    raw = ((rng.standard_normal((n, 40)) * np.linspace(3.0, 1.0, 40)) @ axes.T
           + 0.05 * rng.standard_normal((n, dim)) + 2.0 * axes[:, 0])
    raw = raw.astype(np.float32)
    return (raw / np.linalg.norm(raw, axis=1, keepdims=True)).astype(np.float16)


@pytest.fixture(scope="module")
def rows():
    return spectrum_rows(DIM, 3000, 21)


@pytest.fixture(scope="module")
def reference(rows):
    return reference_pca(rows, 96)


@pytest.fixture(scope="module")
def fitted(rows):
    return CovarianceAccumulator(DIM).add(rows).fit(96)


@pytest.fixture(scope="module")
def small_rows():
    return spectrum_rows(SMALL, 3000, 22)


def reference_pca(rows: np.ndarray, dims: int):
    units = rows.astype(np.float64)
    units /= np.linalg.norm(units, axis=1, keepdims=True)
    values, vectors = np.linalg.eigh(np.cov(units, rowvar=False))
    return units, units.mean(axis=0), values[::-1][:dims], vectors[:, ::-1][:, :dims]


def same_up_to_sign(ours: np.ndarray, theirs: np.ndarray, atol: float) -> None:
    signs = np.sign(np.sum(ours * theirs, axis=0))
    assert (signs != 0).all()
    np.testing.assert_allclose(ours, theirs * signs, rtol=0, atol=atol)


def test_fit_equals_numpy_cov_and_eigh(rows, fitted, reference):
    model = fitted
    _, mean, values, vectors = reference
    assert model.components.shape == (DIM, 96) and model.components.dtype == np.float64
    np.testing.assert_allclose(model.mean, mean, rtol=0, atol=1e-14)
    np.testing.assert_allclose(model.eigenvalues, values, rtol=1e-10, atol=1e-15)
    same_up_to_sign(model.components[:, :32], vectors[:, :32], atol=1e-9)
    assert (np.diff(model.eigenvalues) <= 0).all()
    # Fitting fewer dimensions gives the leading columns of the same model.
    np.testing.assert_array_equal(CovarianceAccumulator(DIM).add(rows).fit(32).components,
                                  model.components[:, :32])


def test_sign_rule_makes_the_largest_entry_positive(whole):
    components = whole.components
    largest = components[np.abs(components).argmax(axis=0), np.arange(32)]
    assert (largest > 0).all()


def test_projection_equals_float64_reference_up_to_sign(rows, fitted, reference):
    model = fitted
    units, mean, _, vectors = reference
    projected = project(model, rows)
    assert projected.dtype == np.float32 and projected.shape == (len(rows), 96)
    expected = (units - mean) @ vectors
    same_up_to_sign(projected[:, :32].astype(np.float64), expected[:, :32], atol=1e-6)
    # Against our own model in float64: the float32 rounding of the product, to the one
    # float32 step a float64 product's rounding may cross.
    ours64 = (units - model.mean) @ model.components
    np.testing.assert_allclose(projected, ours64, rtol=2.0 ** -23, atol=1e-12)


def test_each_value_is_the_float32_nearest_to_the_exact_product(rows, fitted):
    """Checked in rational arithmetic, on the values nearest to a float32 rounding boundary
    (where a float64 product's rounding could go either way) and on a few others."""
    block = rows[:200]
    projected = project(fitted, block)
    centred = pca.unit_rows64(block) - fitted.mean
    approx = centred @ fitted.components
    step = np.abs(np.spacing(approx.astype(np.float32)).astype(np.float64))
    offset = np.abs(approx - approx.astype(np.float32)) / step   # 0.5: on a boundary
    nearest_boundary = np.argsort(-offset, axis=None)[:12]
    for flat in [*nearest_boundary, 0, 977, 5555]:
        row, column = np.unravel_index(flat, approx.shape)
        exact = sum(Fraction(float(c)) * Fraction(float(v)) for c, v in zip(centred[row], fitted.components[:, column]))
        below = np.nextafter(projected[row, column], np.float32(-np.inf))
        above = np.nextafter(projected[row, column], np.float32(np.inf))
        mine = abs(Fraction(float(projected[row, column])) - exact)
        assert mine <= abs(Fraction(float(below)) - exact) and mine <= abs(Fraction(float(above)) - exact)


@pytest.mark.parametrize("workers", [1, 3])
def test_a_row_alone_in_blocks_of_7_or_in_one_block_gives_the_same_bytes(rows, fitted, monkeypatch, workers):
    whole = project(fitted, rows[:700])
    alone = np.concatenate([project(fitted, rows[i:i + 1]) for i in range(30)])
    np.testing.assert_array_equal(alone, whole[:30])
    monkeypatch.setattr(blas, "blas_threads", lambda: workers)
    monkeypatch.setattr(pca, "PROJECT_ROWS", 7)
    np.testing.assert_array_equal(project(fitted, rows[:700]), whole)
    np.testing.assert_array_equal(project(fitted, rows[:50].astype(np.float32)), whole[:50])


def test_stacked_models_project_each_value_as_alone(small_rows, whole):
    accumulator = CovarianceAccumulator(SMALL).add(small_rows)
    low, high = accumulator.fit(4), accumulator.fit(9)
    both = project(stacked([low, high]), small_rows[:200])
    np.testing.assert_array_equal(both[:, :4], project(low, small_rows[:200]))
    np.testing.assert_array_equal(both[:, 4:], project(high, small_rows[:200]))
    with pytest.raises(ValueError, match="same mean"):
        stacked([low, CovarianceAccumulator(SMALL).add(small_rows[:100]).fit(4)])


def test_values_the_float64_bound_leaves_open_are_computed_exactly(rows, fitted, monkeypatch):
    """With a bound so wide that every value is left open, every value goes the exact way:
    the same bytes as the fast way."""
    fast = project(fitted, rows[:3])
    monkeypatch.setattr(pca, "sum_error_bound", lambda n, dtype: 1.0)
    np.testing.assert_array_equal(project(fitted, rows[:3]), fast)


@pytest.fixture(scope="module")
def whole(small_rows):
    return CovarianceAccumulator(SMALL).add(small_rows).fit(32)


@settings(max_examples=20, deadline=None)
@given(cuts=st.lists(st.integers(1, 2999), max_size=4, unique=True))
def test_any_split_and_merge_give_the_same_model(small_rows, whole, cuts):
    rows = small_rows
    bounds = [0, *sorted(cuts), len(rows)]
    parts = [CovarianceAccumulator(SMALL).add(rows[a:b], a) for a, b in zip(bounds, bounds[1:])]
    merged = parts[-1]
    for part in reversed(parts[:-1]):
        merged = part.merge(merged)
    assert merged.count == len(rows)
    model = merged.fit(32)
    np.testing.assert_allclose(model.mean, whole.mean, rtol=0, atol=1e-15)
    np.testing.assert_allclose(model.components, whole.components, rtol=0, atol=1e-10)
    np.testing.assert_allclose(model.eigenvalues, whole.eigenvalues, rtol=1e-12)


def test_fit_is_deterministic_for_a_fixed_split(small_rows, monkeypatch):
    rows = small_rows
    first = CovarianceAccumulator(SMALL).add(rows).fit(32)
    again = CovarianceAccumulator(SMALL).add(rows).fit(32)
    np.testing.assert_array_equal(first.components, again.components)
    monkeypatch.setattr(pca, "PROJECT_ROWS", 100)
    np.testing.assert_array_equal(project(first, rows), pca.project(first, rows))


def test_any_float_dtype_is_normalised_first(small_rows, whole):
    from_wide = CovarianceAccumulator(SMALL).add(small_rows.astype(np.float64) * 7).fit(32)
    np.testing.assert_allclose(from_wide.components, whole.components, atol=1e-12)


def test_bad_inputs():
    with pytest.raises(ValueError, match="rows of 768 values"):
        CovarianceAccumulator(DIM).add(np.ones((3, 5)))
    with pytest.raises(ValueError, match="at least 2 rows"):
        CovarianceAccumulator(DIM).add(np.ones((1, DIM))).fit(2)
    with pytest.raises(DegenerateVectorError, match="row 12 has norm"):
        CovarianceAccumulator(DIM).add(np.eye(3, DIM) * [[1], [1], [0]], first_row=10)
    model = CovarianceAccumulator(SMALL).add(spectrum_rows(SMALL, 100, 23)).fit(4)
    with pytest.raises(ValueError, match="rows of 64 values"):
        project(model, np.ones((3, 5)))
    with pytest.raises(DegenerateVectorError, match="row 7 has norm"):
        project(model, np.eye(3, SMALL) * [[1], [1], [0]], first_row=5)
