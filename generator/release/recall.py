"""Reader of the projection recall CSV (SPEC §2): the published figures or the pipeline's."""
from __future__ import annotations

import csv
from pathlib import Path

from generator.errors import InputError, Origin, Problem
from generator.inputs.text import read_text
from generator.models.page import RecallRow, RecallTable

COLUMNS = ("data", "size", "algo", "buildtime", "querytime", "params", "recall")


def parse_recall(text: str, path: str) -> RecallTable:
    lines = text.splitlines()
    if not lines or tuple(c.strip() for c in next(csv.reader(lines[:1]))) != COLUMNS:
        raise InputError.at(path, f"the first line must be the header {','.join(COLUMNS)}", 1)
    rows, problems = [], []
    for number, fields in enumerate(csv.reader(lines[1:]), start=2):
        if not fields or not "".join(fields).strip():
            continue
        origin = Origin(path, number)
        if len(fields) != len(COLUMNS):
            problems.append(Problem(origin, f"expected {len(COLUMNS)} columns, found {len(fields)}"))
            continue
        record = dict(zip(COLUMNS, (f.strip() for f in fields)))
        try:
            numbers = {key: float(record[key] or "nan") for key in ("buildtime", "querytime", "recall")}
        except ValueError as exc:
            problems.append(Problem(origin, f"not a number: {exc}"))
            continue
        if not 0.0 <= numbers["recall"] <= 1.0:
            problems.append(Problem(origin, f"recall {record['recall']} is not between 0 and 1"))
            continue
        rows.append(RecallRow(record["data"], record["size"], record["algo"], numbers["buildtime"],
                              numbers["querytime"], record["params"], numbers["recall"]))
    if problems:
        raise InputError(problems)
    return RecallTable(path, tuple(rows))


def read_recall(path: Path) -> RecallTable:
    return parse_recall(read_text(path), str(path))
