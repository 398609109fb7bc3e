"""What the site publishes beside the datasets page for tools to read
(docs/design/index.md#what-the-site-publishes): the index
`datasets.json` and the manifests of the published bundles, written from the page's rows so that
they say exactly what the page says. Only certain values go in: a URL, size or md5 the page
marks ⚠ is left out of them (null in the index)."""
from __future__ import annotations

from pathlib import Path

from generator.io.files import atomic_write_text
from generator.manifests.index import INDEX_FILE, DatasetIndex, IndexDataset, IndexEntry, index_json, manifest_texts
from generator.manifests.model import BYTES_FILE, human_size
from generator.release.facts import ReleaseFacts
from generator.site.croissant import CROISSANT_FILE, croissant_json
from generator.site.model import MD5, SIZE, URL, Page, PageRow


def index_entry(row: PageRow) -> IndexEntry:
    size = row.certain(SIZE)
    exact = size.bytes if size and size.exact else None
    return IndexEntry(name=row.name, group=row.group, subset=row.subset, url=row.certain(URL), bytes=exact,
                      size=(human_size(exact) if exact is not None else size.text) if size else None,
                      md5=row.certain(MD5),
                      datasets=tuple(IndexDataset(d.key, d.dtype, d.shape) for d in row.layout.datasets),
                      columns=row.layout.columns, origin=row.source, queries=row.queries)


def page_index(page: Page) -> DatasetIndex:
    return DatasetIndex(page.release.name, tuple(index_entry(row) for group in page.groups for row in group.rows),
                        edition=page.release.edition)


def published_files(page: Page, facts: ReleaseFacts | None = None) -> dict[str, str]:
    """The files to publish beside the page, by name; with the release's facts, its Croissant
    description too."""
    index = page_index(page)
    described = {CROISSANT_FILE: croissant_json(index, facts, page.page_url)} if facts else {}
    return {INDEX_FILE: index_json(index), **manifest_texts(index), **described}


def write_published(files: dict[str, str], folder: Path) -> None:
    """Writes the files; an exact size manifest or a Croissant description left from an earlier
    page is removed when this page has none, so that the site never publishes stale ones."""
    for name, text in files.items():
        atomic_write_text(Path(folder) / name, text)
    for optional in (BYTES_FILE, CROISSANT_FILE):
        if optional not in files:
            (Path(folder) / optional).unlink(missing_ok=True)
