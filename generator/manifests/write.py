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


def url_lines(names: Iterable[str], base_url: str) -> str:
    base = base_url.rstrip("/")
    if not is_http_url(base):
        raise ProjectError(f"BASE_URL '{base_url}' is not an http(s) URL")
    return "".join(f"{base}/{quote(_checked_name(name), safe='=')}\n" for name in names)


def manifest_texts(files: list[tuple[str, int, str]], base_url: str) -> dict[str, str]:
    """The four manifest files' texts for (name, bytes, md5) records, keyed by file name."""
    return {
        MD5_FILE: md5_lines((name, digest) for name, _, digest in files),
        SIZES_FILE: size_lines(((name, n) for name, n, _ in files), exact=False),
        BYTES_FILE: size_lines(((name, n) for name, n, _ in files), exact=True),
        URLS_FILE: url_lines((name for name, _, _ in files), base_url),
    }
