"""Errors the command line reports as plain messages (never as a traceback)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterable


@dataclass(frozen=True, order=True)
class Origin:
    """Where a value came from: a file and, when it has lines, a 1-based line number."""

    path: str
    line: int | None = None

    def __str__(self) -> str:
        return f"{self.path}:{self.line}" if self.line is not None else self.path


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input, located in its file."""

    origin: Origin
    message: str

    def __str__(self) -> str:
        return f"{self.origin}: {self.message}"


class ProjectError(Exception):
    """Base of every error this project raises on purpose."""


class OutputError(ProjectError):
    """An output the disk refused (full, over quota, read-only): the message names the file;
    nothing is left under its final name."""


class InputError(ProjectError):
    """One or more problems in an input file; the message lists each as `file:line: message`."""

    def __init__(self, problems: Iterable[Problem]):
        self.problems = tuple(problems)
        if not self.problems:
            raise ValueError("InputError needs at least one problem")
        super().__init__("\n".join(str(p) for p in self.problems))

    @property
    def line(self) -> int | None:
        return self.problems[0].origin.line

    @classmethod
    def at(cls, path: object, message: str, line: int | None = None) -> "InputError":
        return cls([Problem(Origin(str(path), line), message)])


def os_error_message(error: OSError) -> str:
    """One line for an OSError: the file it names (if any) and the system's words for its errno
    (h5py's own text spans lines and repeats the file's temporary name)."""
    if error.errno:
        reason = os.strerror(error.errno)
    else:
        reason = (str(error).splitlines() or ["an I/O error"])[0]
    return f"{error.filename}: {reason}" if error.filename else reason
