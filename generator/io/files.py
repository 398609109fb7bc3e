"""Crash-safe file writing: a file appears under its final name only when complete."""
from __future__ import annotations

import errno
import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from generator.errors import OutputError, ProjectError

# The errors of a disk that refuses the bytes (full, over quota, a file over its size limit,
# mounted read-only): the output fails whatever is retried.
REFUSED = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS})


def temporary_name(final: Path) -> Path:
    """The name a file is written under until it is complete (same folder, so rename is atomic)."""
    return final.with_name(f".{final.name}.tmp")


@contextmanager
def atomic_output(final: Path) -> Iterator[Path]:
    """Yields a temporary path to write; on success it is synced and renamed to `final`.

    On any exception the temporary file is removed and `final` is left as it was; a disk that
    refuses the bytes (REFUSED) is an OutputError naming `final`.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    temporary = temporary_name(final)
    temporary.unlink(missing_ok=True)
    try:
        yield temporary
        with open(temporary, "rb+") as stream:
            os.fsync(stream.fileno())
        os.replace(temporary, final)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        if error.errno in REFUSED:
            raise OutputError(f"{final}: cannot be written: {os.strerror(error.errno)}; nothing is left under "
                              "its name") from None
        raise
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    _sync_folder(final.parent)


def atomic_write_text(final: Path, text: str) -> None:
    with atomic_output(final) as temporary:
        temporary.write_text(text, encoding="utf-8", newline="\n")


def atomic_copy(source: Path, final: Path) -> None:
    """Copies `source` to `final`, crash-safe: the bytes appear under `final` only when all are there."""
    if not Path(source).is_file():
        raise ProjectError(f"{source}: the file to copy does not exist (build the edition it belongs to first)")
    with atomic_output(final) as temporary:
        shutil.copyfile(source, temporary)


def write_if_changed(final: Path, content: bytes | memoryview) -> None:
    """Writes `content` atomically unless `final` already holds exactly it, so that an
    unchanged file keeps its modification time (and make has nothing to redo)."""
    final = Path(final)
    if final.is_file() and final.stat().st_size == len(content) and final.read_bytes() == content:
        return
    with atomic_output(final) as temporary:
        temporary.write_bytes(content)


def _sync_folder(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
