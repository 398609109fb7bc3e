"""The Croissant description of a release (MLCommons Croissant 1.0, JSON-LD over schema.org's
`Dataset`), `croissant.json`: published beside `datasets.json` and embedded in the head of the
datasets page, for dataset search engines and loaders. A pure function of the index the site
publishes and the release's facts, so that its files are exactly the index's
(docs/design/releases.md#facts-for-dataset-search)."""
from __future__ import annotations

import json
from typing import Any

from generator.manifests.index import HDF5, DatasetIndex, IndexEntry
from generator.release.facts import Creator, ReleaseFacts

CROISSANT_FILE = "croissant.json"
CONFORMS_TO = "http://mlcommons.org/croissant/1.0"
# The JSON-LD context of Croissant 1.0: schema.org as the vocabulary, Croissant's own terms.
CONTEXT: dict[str, Any] = {
    "@language": "en",
    "@vocab": "https://schema.org/",
    "citeAs": "cr:citeAs",
    "column": "cr:column",
    "conformsTo": "dct:conformsTo",
    "cr": "http://mlcommons.org/croissant/",
    "rai": "http://mlcommons.org/croissant/RAI/",
    "data": {"@id": "cr:data", "@type": "@json"},
    "dataType": {"@id": "cr:dataType", "@type": "@vocab"},
    "dct": "http://purl.org/dc/terms/",
    "equivalentProperty": "cr:equivalentProperty",
    "examples": {"@id": "cr:examples", "@type": "@json"},
    "extract": "cr:extract",
    "field": "cr:field",
    "fileProperty": "cr:fileProperty",
    "fileObject": "cr:fileObject",
    "fileSet": "cr:fileSet",
    "format": "cr:format",
    "includes": "cr:includes",
    "isLiveDataset": "cr:isLiveDataset",
    "jsonPath": "cr:jsonPath",
    "key": "cr:key",
    "md5": "cr:md5",
    "parentField": "cr:parentField",
    "path": "cr:path",
    "recordSet": "cr:recordSet",
    "references": "cr:references",
    "regex": "cr:regex",
    "repeated": "cr:repeated",
    "replace": "cr:replace",
    "samplingRate": "cr:samplingRate",
    "sc": "https://schema.org/",
    "separator": "cr:separator",
    "source": "cr:source",
    "subField": "cr:subField",
    "transform": "cr:transform",
}
# The media types of the bundles' formats.
ENCODING = {HDF5: "application/x-hdf5", "tsv": "text/tab-separated-values"}


def file_object(entry: IndexEntry) -> dict[str, Any]:
    """One bundle of the index as a Croissant FileObject: its name, URL, size, md5 and format.
    The size is the exact byte count where the index knows it (`"N B"`), else its rounded size."""
    size = f"{entry.bytes} B" if entry.bytes is not None else entry.size
    return {"@type": "cr:FileObject", "@id": entry.name, "name": entry.name,
            "description": f"{entry.group} files of the {entry.subset} subset",
            "contentUrl": entry.url, "contentSize": size, "md5": entry.md5,
            "encodingFormat": ENCODING[HDF5 if entry.datasets else "tsv"]}


def _creator(creator: Creator) -> dict[str, str]:
    described = {"@type": "sc:Organization" if creator.organization else "sc:Person", "name": creator.name}
    return described | ({"url": creator.url} if creator.url else {})


def croissant(index: DatasetIndex, facts: ReleaseFacts, page_url: str) -> dict[str, Any]:
    """The Croissant document of the edition `index` describes, whose datasets page is `page_url`.

    Parameters: index (the bundles datasets.json lists), facts (description, licences, citation,
    creators, keywords, date and version), page_url (the edition's datasets page).
    Returns: the JSON-LD document as a dict. Only bundles with a certain URL and md5 are listed
    (a loader cannot fetch or check the others).
    Example: croissant(index, facts, "https://h.example/datasets.html")["distribution"][0]["contentUrl"]
    """
    document: dict[str, Any] = {
        "@context": CONTEXT, "@type": "sc:Dataset", "conformsTo": CONFORMS_TO,
        "name": index.release, "description": facts.description, "url": page_url,
        "license": list(facts.licenses), "citeAs": facts.citation,
        "creator": [_creator(creator) for creator in facts.creators],
        "keywords": list(facts.keywords),
        "datePublished": facts.date_published, "version": facts.version,
        "distribution": [file_object(entry) for entry in index.bundles if entry.url and entry.md5],
    }
    return {key: value for key, value in document.items() if value not in ("", [])}


def croissant_json(index: DatasetIndex, facts: ReleaseFacts, page_url: str) -> str:
    """croissant() as the text of croissant.json."""
    return json.dumps(croissant(index, facts, page_url), indent=2, ensure_ascii=False) + "\n"
