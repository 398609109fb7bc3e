"""Which rows of which parts make a subset (docs/design/data.md#nsfw-rules): the NSFW rules and the dev-subset cut."""
from __future__ import annotations

from typing import Iterable, Iterator, Sequence, TypeVar

import numpy as np

from generator.errors import ProjectError
from generator.release.model import DEV, STRICT, Subset

P = TypeVar("P")


def kept_rows(nsfw: Sequence[str | None], rule: str) -> np.ndarray:
    """Indices of the rows a rule keeps: strict needs a value other than "NSFW"; dev drops only "NSFW"."""
    if rule == STRICT:
        keep = [value is not None and value != "NSFW" for value in nsfw]
    elif rule == DEV:
        keep = [value != "NSFW" for value in nsfw]
    else:
        raise ValueError(f"unknown NSFW rule '{rule}'")
    return np.flatnonzero(np.asarray(keep, dtype=bool))


def select_rows(spec: Subset, nsfw_columns: Iterable[tuple[P, Sequence[str | None]]]
                ) -> Iterator[tuple[P, np.ndarray]]:
    """(part, row indices) in subset order, from (part, NSFW column) pairs given in part order.

    A dev subset stops after `spec.rows` rows and reads no further part; it is an error
    if its parts hold fewer.
    """
    remaining = spec.rows
    for part, nsfw in nsfw_columns:
        rows = kept_rows(nsfw, spec.rule)
        if remaining is not None:
            rows = rows[:remaining]
            remaining -= len(rows)
        yield part, rows
        if remaining == 0:
            return
    if remaining and spec.rows is not None:
        raise ProjectError(f"{spec.origin}: subset '{spec.label}' needs {spec.rows:,} rows but parts "
                           f"{spec.first_part}..{spec.last_part} hold only {spec.rows - remaining:,} kept rows")
