"""The page's texts filled in for one release: placeholders such as `{subset}` or `{train}`
(data/page.yml lists them) replaced by the release's facts.

`placeholders` checks a template when it is read, so that a misspelt name is an error
naming its line; `Texts` fills templates for one release.
"""
from __future__ import annotations

import string

from generator.release.model import (DEV, EXTERNAL, GOLD, PCA, SKETCHES, STRICT, Admonition, Bundle, BundleKind,
                                     Release, Subset, Wording)

# The names a template may use, by where it stands (each level adds to the one before).
GLOBAL_NAMES = frozenset({"train", "dev_subsets", "strict_subsets", "recall_k", "edition", "query_sets"})
SUBSET_NAMES = GLOBAL_NAMES | {"label", "parts", "first_part", "rows", "objects"}
QUERY_NAMES = GLOBAL_NAMES | {"label", "count", "part", "seed", "candidates", "k", "min_sum", "against", "from",
                              "from_edition"}
GROUP_NAMES = GLOBAL_NAMES | {"k", "queries", "query_count", "precision"}
DESCRIPTION_NAMES = GROUP_NAMES | {"subset", "cols"}
# Facts a warning may require (`requires` in the wording): the warning is shown only for an edition
# where each of them is not empty.
CONDITIONS = frozenset({"dev_subsets", "strict_subsets", "projections"})


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
        self.facts = {
            "train": release.pca_train,
            "dev_subsets": labels_text([s.label for s in release.subsets if s.rule == DEV]),
            "strict_subsets": labels_text([s.label for s in release.subsets if s.rule == STRICT]),
            "recall_k": str(release.recall_k),
            "edition": release.edition,
            "query_sets": labels_text(release.query_labels),
        }
        self.conditions = {**self.facts, "projections": "yes" if any(
            kind.of in (PCA, SKETCHES) for kind in release.kinds) else ""}

    def fill(self, template: str, **more: str) -> str:
        return template.format_map({**self.facts, **more})

    def shows(self, warning: Admonition) -> bool:
        return all(self.conditions.get(name) for name in warning.requires)

    def subset_phrase(self, subset: Subset) -> str:
        if subset.count is not None:
            objects = f", {subset.count:,} objects"
        else:
            objects = f", about {subset.about} objects" if subset.about else ""
        if subset.source == EXTERNAL:
            return self.fill(self.wording.external_subset_phrase, label=subset.label, parts="", first_part="",
                             rows="", objects=objects)
        return self.fill(self.wording.subset_phrases[subset.rule], label=subset.label,
                         parts=f"{part_number(subset.first_part)}–{part_number(subset.last_part)}",
                         first_part=part_number(subset.first_part),
                         rows=f"{subset.rows:,}" if subset.rows is not None else "", objects=objects)

    def queries_phrase(self, label: str) -> str:
        """How a query set was made, from its definition: drawn, selected, reused or external."""
        spec = self.release.query_set(label)
        selection = spec.selection
        return self.fill(
            self.wording.query_phrases[spec.source], label=spec.label, count=f"{spec.count:,}",
            part=part_number(spec.part) if spec.part is not None else "", seed=str(spec.seed or 0),
            candidates=f"{selection.candidates:,}" if selection else "", k=str(selection.k) if selection else "",
            min_sum=f"{selection.min_sum:g}" if selection else "", against=selection.against if selection else "",
            **{"from": spec.reused_label, "from_edition": spec.reused_edition})

    def group_facts(self, kind: BundleKind) -> dict[str, str]:
        """What a group's title, intro and descriptions may say of its kind: a gold standard's k,
        query set and precision, from the definition."""
        if kind.of != GOLD or kind.queries is None:
            return {"k": str(kind.layout.cols or ""), "queries": "", "query_count": "", "precision": kind.precision}
        return {"k": f"{kind.layout.cols:,}", "queries": self.queries_phrase(kind.queries),
                "query_count": f"{self.release.query_set(kind.queries).count:,}", "precision": kind.precision}

    def group_text(self, template: str, kind: BundleKind) -> str:
        return self.fill(template, **self.group_facts(kind))

    def description(self, bundle: Bundle) -> str:
        """The description of a bundle; its group's wording must exist (the reader checks it
        for every published bundle)."""
        group = self.wording.groups[bundle.group]
        is_queries = bundle.kind.of != GOLD and self.release.is_query_label(bundle.subset)
        template = group.queries if is_queries else group.database
        facts = self.group_facts(bundle.kind)
        if is_queries:
            facts["queries"] = self.queries_phrase(bundle.subset)
        return self.fill(template or group.database, cols=str(bundle.layout.cols or ""), **facts,
                         subset=facts["queries"] if is_queries
                         else self.subset_phrase(self.release.subset(bundle.subset)))
