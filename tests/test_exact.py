"""The exact arithmetic behind row-independent sketches and projections, against Python's
rational numbers."""
from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from generator.pipeline.exact import (
    exact_sign,
    nearest_float32,
    product_terms,
    sum_error_bound,
)

# Magnitudes of embeddings and models, far from float64's overflow and underflow.
finite = st.one_of(st.just(0.0), st.floats(1e-30, 1e6), st.floats(-1e6, -1e-30))


def exact_dot(a, b) -> Fraction:
    return sum((Fraction(float(x)) * Fraction(float(y)) for x, y in zip(a, b)), Fraction(0))


def float32_nearest(value: Fraction) -> np.float32:
    """The float32 nearest to an exact rational, ties to even, by comparing neighbours."""
    guess = np.float32(float(value))
    candidates = [np.nextafter(guess, np.float32(-np.inf)), guess, np.nextafter(guess, np.float32(np.inf))]
    return min(candidates, key=lambda c: (abs(Fraction(float(c)) - value),
                                          int(np.array(c).view(np.uint32)) & 1))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(finite, finite), min_size=1, max_size=12))
def test_product_terms_sum_exactly_to_the_dot_product(pairs):
    a, b = np.array(pairs).T
    assert sum(map(Fraction, product_terms(a, b).tolist()), Fraction(0)) == exact_dot(a, b)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(finite, finite), min_size=1, max_size=12))
def test_exact_sign_and_nearest_float32_follow_the_exact_sum(pairs):
    a, b = np.array(pairs).T
    terms = product_terms(a, b)
    value = exact_dot(a, b)
    assert exact_sign(terms) == (value > 0) - (value < 0)
    assert nearest_float32(terms) == float32_nearest(value)


def test_a_sum_just_above_a_float32_tie_rounds_up_despite_float64_rounding():
    """1 + 2^-24 is halfway between the float32s 1 and 1 + 2^-23; adding 2^-80 puts the exact
    sum above the tie, though its float64 rounding is the tie itself (which rounds to 1)."""
    terms = np.array([1.0, 2.0 ** -24, 2.0 ** -80])
    assert float(np.float32(sum(terms))) == 1.0
    assert nearest_float32(terms) == np.float32(1 + 2.0 ** -23)
    assert nearest_float32(np.array([1.0, 2.0 ** -24, -(2.0 ** -80)])) == np.float32(1.0)
    assert nearest_float32(np.array([1.0, 3 * 2.0 ** -24])) == np.float32(1 + 2 * 2.0 ** -23)  # tie to even
    assert exact_sign(np.array([2.0 ** 60, 1.0, -(2.0 ** 60)])) == 1


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 4096), st.integers(0, 2**32 - 1))
def test_float32_dot_products_in_any_order_stay_within_the_bound(n, seed):
    """Sequential, pairwise (numpy's sum) and BLAS orders, all against the exact rational value."""
    rng = np.random.default_rng(seed)
    a, b = (rng.standard_normal(n) * rng.choice([1e-3, 1.0, 1e3])).astype(np.float32), \
        rng.standard_normal(n).astype(np.float32)
    exact = exact_dot(a, b)
    limit = sum_error_bound(n, np.float32) * float(sum(abs(Fraction(float(x)) * Fraction(float(y)))
                                                       for x, y in zip(a, b)))
    products = a * b  # each float32 product carries one rounding too, as in a BLAS kernel
    sequential = np.cumsum(products, dtype=np.float32)[-1]
    for value in (sequential, np.sum(products, dtype=np.float32), np.dot(a, b)):
        assert abs(Fraction(float(value)) - exact) <= Fraction(limit)


@pytest.mark.parametrize("n", [8, 768, 4096])
def test_the_bound_is_nearly_reached_by_a_sequential_sum(n):
    """1 followed by n - 1 terms of 0.99 unit roundoff: each addition to 1 rounds the term away,
    so a float32 sum from left to right loses almost n·u of the total: the bound cannot be
    much smaller and still hold."""
    u = 2.0 ** -24
    terms = np.array([1.0] + [0.99 * u] * (n - 1), dtype=np.float32)
    exact = sum(map(Fraction, terms.astype(np.float64).tolist()), Fraction(0))
    error = abs(exact - Fraction(float(np.cumsum(terms, dtype=np.float32)[-1])))
    limit = Fraction(sum_error_bound(n, np.float32)) * exact
    assert 0.98 * limit * (n - 1) / n < error <= limit
