"""The index and the manifests read from where they are published (docs/design/index.md#what-the-site-publishes),
so that a
participant needs only the site's URL: an http(s) URL is fetched, anything else without a
scheme is a local file."""
from __future__ import annotations

from pathlib import Path

import requests

from generator.errors import ProjectError
from generator.io.text import read_text
from generator.manifests.index import DatasetIndex, index_manifests, parse_index
from generator.manifests.model import Manifest, ManifestSet, is_http_url
from generator.manifests.read import parse_md5s

FETCH_TIMEOUT = 60.0
# The index of the challenge is a few tens of kilobytes; a body far larger is not an index.
MAX_BYTES = 64 * 1024 * 1024


def is_url(source: str) -> bool:
    return "://" in source


def fetch_text(url: str, timeout: float = FETCH_TIMEOUT) -> str:
    """The UTF-8 text at an http(s) URL; every failure is one ProjectError naming the URL."""
    if not is_http_url(url):
        raise ProjectError(f"{url}: not an http(s) URL; give an http or https URL, or a local file")
    try:
        with requests.get(url, timeout=timeout, stream=True) as response:
            if response.status_code != 200:
                raise ProjectError(f"{url}: HTTP {response.status_code} {response.reason}")
            if response.headers.get("Content-Type", "").split(";")[0].strip().lower() == "text/html":
                raise ProjectError(f"{url}: the server sent an HTML page, not an index or a manifest")
            body = b""
            for chunk in response.iter_content(1024 * 1024):
                body += chunk
                if len(body) > MAX_BYTES:
                    raise ProjectError(f"{url}: more than {MAX_BYTES:,} bytes; not an index or a manifest")
    except requests.RequestException as exc:
        raise ProjectError(f"{url}: cannot be fetched ({exc})") from None
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ProjectError(f"{url}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def read_source(source: str) -> str:
    return fetch_text(source) if is_url(source) else read_text(Path(source))


def load_index(source: str) -> DatasetIndex:
    """The index `datasets.json` at a URL or in a file."""
    return parse_index(read_source(source), source)


def load_index_manifests(source: str) -> ManifestSet:
    return index_manifests(load_index(source))


def load_remote_md5s(url: str) -> ManifestSet:
    """An md5 manifest at a URL, alone: files are checked by md5 (the index adds exact sizes)."""
    return ManifestSet(urls=Manifest("url", url), sizes=Manifest("size", url), md5s=parse_md5s(fetch_text(url), url))
