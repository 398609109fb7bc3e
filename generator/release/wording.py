"""The page's texts filled in for one release: placeholders such as `{subset}` or `{train}`
(data/page.yml lists them) replaced by the release's facts.

`placeholders` checks a template when it is read, so that a misspelt name is an error
naming its line; `Texts` fills templates for one release.
"""
from __future__ import annotations

import string

from generator.release.model import DEV, STRICT, Bundle, Release, Subset, Wording

# The names a template may use, by where it stands (each level adds to the one before).
GLOBAL_NAMES = frozenset({"train", "dev_subsets", "strict_subsets", "query_count", "query_part", "recall_k"})
SUBSET_NAMES = GLOBAL_NAMES | {"label", "parts", "first_part", "rows", "objects"}
DESCRIPTION_NAMES = GLOBAL_NAMES | {"subset", "queries", "cols"}


def placeholders(template: str) -> list[str]:
    """The names a template uses; ValueError for a stray brace or a field that is more than a
    plain name (`{a.b}`, `{a!r}`, `{a:>4}`)."""
    names = []
    for _, name, spec, conversion in string.Formatter().parse(template):
        if name is None:
            continue
        if spec or conversion or not name.isidentifier():
            raise ValueError(f"'{{{name}{'!' + conversion if conversion else ''}{':' + spec if spec else ''}}}' "
                             "is not a placeholder (write {name}, or {{ for a brace)")
        names.append(name)
    return names


def part_number(number: int) -> str:
    return f"{number:04d}"


def labels_text(labels: list[str]) -> str:
    """'A', 'A and B', 'A, B and C'."""
    if len(labels) <= 1:
        return "".join(labels)
    return ", ".join(labels[:-1]) + " and " + labels[-1]


class Texts:
    """The wording of the page filled in with the facts of one release."""

    def __init__(self, release: Release, wording: Wording):
        self.release = release
        self.wording = wording
        queries = release.queries
        self.facts = {
            "train": release.pca_train,
            "dev_subsets": labels_text([s.label for s in release.subsets if s.rule == DEV]),
            "strict_subsets": labels_text([s.label for s in release.subsets if s.rule == STRICT]),
            "query_count": f"{queries.count:,}",
            "query_part": part_number(queries.part),
            "recall_k": str(release.recall_k),
        }

    def fill(self, template: str, **more: str) -> str:
        return template.format_map({**self.facts, **more})

    def subset_phrase(self, subset: Subset) -> str:
        if subset.count is not None:
            objects = f", {subset.count:,} objects"
        else:
            objects = f", about {subset.about} objects" if subset.about else ""
        return self.fill(self.wording.subset_phrases[subset.rule], label=subset.label,
                         parts=f"{part_number(subset.first_part)}–{part_number(subset.last_part)}",
                         first_part=part_number(subset.first_part),
                         rows=f"{subset.rows:,}" if subset.rows is not None else "", objects=objects)

    def queries_phrase(self) -> str:
        return self.fill(self.wording.queries_phrase)

    def description(self, bundle: Bundle) -> str:
        """The description of a bundle; its group's wording must exist (the reader checks it
        for every published bundle)."""
        group = self.wording.groups[bundle.group]
        is_queries = bundle.subset == self.release.queries.label
        template = group.queries if is_queries else group.database
        return self.fill(template or group.database, cols=str(bundle.layout.cols or ""),
                         queries=self.queries_phrase(),
                         subset=self.queries_phrase() if is_queries else
                         self.subset_phrase(self.release.subset(bundle.subset)))
