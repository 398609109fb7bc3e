"""The projection recall table (docs/design/data.md#recall-table): the CSV the pipeline writes and the page shows,
with the columns of the published figures (data,size,algo,buildtime,querytime,params,recall).
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from generator.errors import InputError, Origin, Problem
from generator.io.text import read_text

RECALL_FILE = "recall-projections.csv"
COLUMNS = ("data", "size", "algo", "buildtime", "querytime", "params", "recall")


@dataclass(frozen=True)
class RecallRow:
    """One line: recall of brute force in projection `data` on subset `size`, and its times in seconds."""

    data: str
    size: str
    algo: str
    buildtime: float
    querytime: float
    params: str
    recall: float


@dataclass(frozen=True)
class RecallTable:
    path: str
    rows: tuple[RecallRow, ...]

    def projections(self) -> list[str]:
        return list(dict.fromkeys(row.data for row in self.rows))

    def subsets(self) -> list[str]:
        return list(dict.fromkeys(row.size for row in self.rows))

    def cell(self, projection: str, subset: str) -> RecallRow | None:
        return next((r for r in self.rows if r.data == projection and r.size == subset), None)


def recall_csv(rows: Iterable[RecallRow]) -> str:
    """The CSV text of `rows`, header first."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([row.data, row.size, row.algo, row.buildtime, row.querytime, row.params, row.recall])
    return text.getvalue()


def _csv_lines(text: str, path: str) -> Iterator[tuple[int, list[str]]]:
    """(line number, fields) of each CSV record; a record the csv module refuses (a field longer
    than its field_size_limit, say) is an InputError at its line. Lines end at '\n' alone, as an
    editor counts them (str.splitlines also ends one at a form feed or U+001E)."""
    reader = csv.reader(text.split("\n"))
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise InputError.at(path, f"not a CSV line: {exc}", reader.line_num) from None
        yield reader.line_num, fields


def parse_recall(text: str, path: str) -> RecallTable:
    records = _csv_lines(text, path)
    header = next(records, None)
    if header is None or header[0] != 1 or tuple(c.strip() for c in header[1]) != COLUMNS:
        raise InputError.at(path, f"the first line must be the header {','.join(COLUMNS)}", 1)
    rows, problems = [], []
    for number, fields in records:
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
