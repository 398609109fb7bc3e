"""Exact answers for the few values a BLAS product leaves open.

A BLAS product sums in an order of its own, which changes with the block shape, the kernel
and the thread count, so its rounding is not a function of one row. The kernels use it
only where a rigorous bound on its error settles the answer: the sign of a difference (a
sketch bit) or the float32 nearest to a sum (a projection). The values the bound leaves
open are settled here from the exact sum, which math.fsum rounds correctly when it is given
every product as an exact pair of float64 terms.
"""
from __future__ import annotations

import math

import numpy as np
from numpy.typing import DTypeLike

SPLITTER = 2.0 ** 27 + 1  # Veltkamp's constant: splits a float64 into two 26-bit halves


def sum_error_bound(n: int, dtype: DTypeLike) -> float:
    """γ_n = n·u / (1 - n·u), u the unit roundoff of `dtype`: a dot product of n terms
    evaluated in `dtype`, in any order and with or without fused multiply-adds, is within
    γ_n · Σ|a_i b_i| of the exact value.

    Example: sum_error_bound(768, np.float32) is about 4.6e-5.
    """
    u = float(np.finfo(dtype).eps) / 2
    return n * u / (1 - n * u)


def product_terms(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Float64 terms whose exact sum is Σ a_i·b_i: each product's rounded value and its
    rounding error, found exactly by Dekker's product over Veltkamp's split.

    Parameters: a, b, vectors of equal length (converted to float64), with products far
    from float64's overflow and underflow (|a_i b_i| between 1e-250 and 1e250, or 0), as
    embeddings and models always are. Returns a 1-D array twice as long. Example:
    math.fsum(product_terms(a, b)) is the dot product correctly rounded to float64.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    rounded = a * b
    a_high, a_low = _halves(a)
    b_high, b_low = _halves(b)
    error = ((a_high * b_high - rounded) + a_high * b_low + a_low * b_high) + a_low * b_low
    return np.concatenate([rounded, error])


def exact_sign(terms: np.ndarray) -> int:
    """The sign (-1, 0 or 1) of the exact sum of float64 `terms`.

    Example: exact_sign(product_terms(x, r1 - r2)) when r1 - r2 is exact in float64.
    """
    total = math.fsum(terms.tolist())
    return (total > 0) - (total < 0)


def nearest_float32(terms: np.ndarray) -> np.float32:
    """The float32 nearest to the exact sum of float64 `terms`, ties to even.

    math.fsum rounds the sum to float64 first; that can only mislead when it lands exactly
    on a float32 tie, and then the sign of (sum - tie), also exact, says which way to go.
    Example: nearest_float32(product_terms(x, c)) is a projection coordinate.
    """
    total = math.fsum(terms.tolist())
    nearest = np.float32(total)
    if float(nearest) == total:
        return nearest
    other = np.nextafter(nearest, np.float32(np.inf if total > float(nearest) else -np.inf))
    tie = (float(nearest) + float(other)) / 2
    if total != tie:
        return nearest
    side = exact_sign(np.append(terms, -tie))
    if side == 0:
        return nearest
    return max(nearest, other) if side > 0 else min(nearest, other)


def _halves(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    scaled = SPLITTER * x
    high = scaled - (scaled - x)
    return high, x - high
