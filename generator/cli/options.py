"""Argument types shared by the commands."""
from __future__ import annotations

import argparse
import math
from typing import Callable


def number(kind: Callable[[str], float], low: float, high: float, unit: str) -> Callable[[str], float]:
    """An argparse type: a finite `kind` from `low` to `high`, so that a negative, NaN or infinite
    value is a usage error naming the option, and not a traceback from deeper down.

    Example: parser.add_argument("--timeout", type=number(float, 0.001, 86400, "seconds")).
    """
    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
        if not (math.isfinite(value) and low <= value <= high):
            raise argparse.ArgumentTypeError(f"must be from {low:g} to {high:g} {unit}, not '{text}'")
        return value
    return parse
