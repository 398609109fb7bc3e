"""Writers of the manifests (docs/design/releases.md#manifests): md5 in `md5sum` format, sizes human-readable and
exact, URLs."""
from __future__ import annotations

from typing import Iterable
from urllib.parse import quote

from generator.errors import ProjectError
from generator.manifests.model import BYTES_FILE, MD5_FILE, SIZES_FILE, URLS_FILE, human_size, is_http_url


def _checked_name(name: str) -> str:
    # md5sum -c would need its escaped form for these, and no bundle name carries them.
    if "/" in name or "\\" in name or "\n" in name or "\r" in name or not name.strip():
        raise ProjectError(f"'{name}' cannot be written to a manifest (a plain file name is needed)")
    return name


def md5_lines(digests: Iterable[tuple[str, str]]) -> str:
    """`HASH  NAME` lines, exactly what `md5sum` prints, so `md5sum -c` accepts them."""
    return "".join(f"{digest.lower()}  {_checked_name(name)}\n" for name, digest in digests)


def size_lines(sizes: Iterable[tuple[str, int]], exact: bool) -> str:
    return "".join(f"{n if exact else human_size(n)} {_checked_name(name)}\n" for name, n in sizes)


def url_lines(files: Iterable[tuple[str, str]]) -> str:
    """A URL line per (name, URL folder) pair: the folder, then the name."""
    lines = []
    for name, folder in files:
        base = folder.rstrip("/")
        if not is_http_url(base):
            raise ProjectError(f"the URL folder '{folder}' of '{name}' is not an http(s) URL")
        lines.append(f"{base}/{quote(_checked_name(name), safe='=')}\n")
    return "".join(lines)


def manifest_texts(files: list[tuple[str, int, str, str]]) -> dict[str, str]:
    """The four manifest files' texts for (name, bytes, md5, URL folder) records, keyed by file name."""
    return {
        MD5_FILE: md5_lines((name, digest) for name, _, digest, _ in files),
        SIZES_FILE: size_lines(((name, n) for name, n, _, _ in files), exact=False),
        BYTES_FILE: size_lines(((name, n) for name, n, _, _ in files), exact=True),
        URLS_FILE: url_lines((name, folder) for name, _, _, folder in files),
    }
