"""The release definition: one edition of the challenge (docs/design/releases.md#release-definition).

One `Release` is read from one data file per edition (data/releases/2023.yml, data/releases/2024.yml,
the sample editions): its subsets, its named query sets, its kinds of bundle with their file names,
layouts and hosts, whether each bundle is published, the pipeline's settings, and the earlier
edition it reuses bundles from. The pipeline's stages and make rules, the manifests, the page's
tables, the participants' `download --group/--subset` and the tests all take the bundles from
`Release.bundles()`.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from generator.errors import Origin

EMBEDDING_DIM = 768   # CLIP ViT-L/14 (docs/design/data.md#bundle-layouts)
SKETCH_GROUP = 64     # references per 64-bit sketch word
STRICT, DEV = "strict", "dev"
NSFW_RULES = (STRICT, DEV)
NSFW_COLUMN = "NSFW"

# What computes a kind of bundle (`of` in the release file).
EMBEDDINGS, PCA, PCA_MODEL, SKETCHES, GOLD, META = "embeddings", "pca", "pca-model", "sketches", "gold", "meta"
COMPUTATIONS = (EMBEDDINGS, PCA, PCA_MODEL, SKETCHES, GOLD, META)
SUBSET_PLACEHOLDER = "{subset}"
QUERIES_PLACEHOLDER = "{queries}"

# Where a bundle comes from (docs/design/releases.md#editions-and-reuse): built by the pipeline of
# this edition, reused from an earlier edition (the same bytes: referenced when the name is the same,
# copied under a new name otherwise), or external (made by a method the project does not rebuild:
# listed, downloaded and verified, an input of the stages that read it).
BUILT, REUSED, EXTERNAL = "built", "reused", "external"
# How a query set is made: drawn at random from a part, selected by the filter rule, reused, external.
DRAWN, SELECTED = "drawn", "selected"
QUERY_SOURCES = (DRAWN, SELECTED, REUSED, EXTERNAL)


@dataclass(frozen=True)
class Subset:
    """A database subset: parts first..last concatenated in order under an NSFW rule.

    `strict` keeps rows whose NSFW value is present and not "NSFW"; `dev` drops only rows
    marked "NSFW" and stops after `rows` rows (docs/design/data.md#nsfw-rules). `count` (exact) or
    `about` (text) states the size of a strict subset where it is known before it is built.
    `source` is BUILT (cut from the parts here), REUSED (the subset of the same label of the
    earlier edition `edition`) or EXTERNAL (a file the organisers made; `rule` is empty).
    """

    label: str
    first_part: int
    last_part: int
    rule: str
    rows: int | None
    count: int | None
    about: str | None
    origin: Origin
    source: str = BUILT
    edition: str = ""

    @property
    def parts(self) -> range:
        return range(self.first_part, self.last_part + 1) if self.source == BUILT else range(0)

    @property
    def known_rows(self) -> int | None:
        return self.rows if self.rule == DEV else self.count

    @property
    def rows_text(self) -> str:
        """The row count for a layout: exact when known, else approximate, else `n`."""
        if self.known_rows is not None:
            return f"{self.known_rows:,}"
        return f"≈{self.about}" if self.about else "n"


@dataclass(frozen=True)
class Selection:
    """The filter of a selected query set (docs/design/data.md#query-sets): of `candidates` rows
    drawn from the part, keep a row when its k-th and (k+1)-th nearest distances in subset
    `against` differ and its k nearest distances sum to more than `min_sum`."""

    candidates: int
    k: int
    min_sum: float
    against: str


@dataclass(frozen=True)
class QuerySet:
    """A named query set of `count` vectors: DRAWN (`count` rows of `part` chosen with `seed`),
    SELECTED (drawn, then filtered by `selection`), REUSED (the query set `reused_label` of edition
    `reused_edition`, the same bytes) or EXTERNAL (a file the organisers made). `label` names it in
    file names and where a subset label would stand (`make download SUBSET=public`)."""

    label: str
    source: str
    count: int
    origin: Origin
    part: int | None = None
    seed: int | None = None
    selection: Selection | None = None
    reused_edition: str = ""
    reused_label: str = ""
    host: str | None = None

    @property
    def rows_text(self) -> str:
        return f"{self.count:,}"


@dataclass(frozen=True)
class DatasetLayout:
    """One HDF5 dataset of a bundle: key, dtype (a numpy name) and second dimension; `shape`, when
    given, is the whole shape of a dataset whose rows are not the bundle's (a model's arrays)."""

    key: str
    dtype: str
    cols: int
    shape: tuple[int, ...] | None = None


@dataclass(frozen=True)
class Layout:
    """A bundle's layout: its HDF5 datasets, or the columns of a TSV table."""

    datasets: tuple[DatasetLayout, ...] = ()
    columns: tuple[str, ...] = ()

    @property
    def cols(self) -> int | None:
        return self.datasets[0].cols if self.datasets else None

    @property
    def vector_cols(self) -> int:
        """The columns of a vector layout (projections, sketches, gold standards): a table has none."""
        if self.cols is None:
            raise ValueError("a table layout has no vector columns")
        return self.cols


@dataclass(frozen=True)
class BundleKind:
    """One entry of `bundles`: a kind of bundle, made for every subset and, where it names a
    queries file, for query sets; published for the labels of `publish`, in that order.

    `file` names a subset's file (`{subset}`); `queries_file` a query set's file (`{queries}` is
    its label) and `queries_files` the name per query set label where no template fits. A gold
    standard is made for one query set, `queries`, and each subset; `precision` says how it was
    computed, for the page. `host` names the host of its files (else the query set's or the
    edition's)."""

    id: str
    of: str
    file: str
    queries_file: str | None
    layout: Layout
    queries_layout: Layout | None
    publish: tuple[str, ...]
    origin: Origin
    queries_files: tuple[tuple[str, str], ...] = ()
    queries: str | None = None
    precision: str = ""
    host: str | None = None

    def file_name(self, label: str) -> str:
        name = self.file.replace(SUBSET_PLACEHOLDER, label)
        return name.replace(QUERIES_PLACEHOLDER, self.queries or "")

    def queries_file_name(self, label: str) -> str | None:
        """The file of query set `label`, or None when this kind makes none for it."""
        named = dict(self.queries_files)
        if label in named:
            return named[label]
        return self.queries_file.replace(QUERIES_PLACEHOLDER, label) if self.queries_file else None

    def makes_queries(self, label: str) -> bool:
        return self.of != GOLD and self.queries_file_name(label) is not None

    @property
    def queries_name(self) -> str:
        """The queries' file of a kind made for the queries."""
        if self.queries_file is None:
            raise ValueError(f"bundles '{self.id}' are not made for the queries")
        return self.queries_file


@dataclass(frozen=True)
class Bundle:
    """One file of the release.

    `subset` is the label it belongs to (a subset, or a query set's label); its rows are the
    objects of that subset, except for gold standards, which have a row per query of `queries`.
    `source` says where it comes from (BUILT, REUSED, EXTERNAL) and `edition` which edition's
    folder and manifests hold it: an earlier edition's for a file reused by reference.
    `from_name` is the earlier edition's name of a reused file (the same as `name` when referenced,
    another when the bytes are copied under a new name)."""

    name: str
    kind: BundleKind
    subset: str
    layout: Layout
    rows: int | None
    rows_text: str
    published: bool
    source: str = BUILT
    edition: str = ""
    queries: str | None = None
    host_url: str = ""
    from_edition: str = ""
    from_name: str = ""

    @property
    def group(self) -> str:
        return self.kind.id

    @property
    def referenced(self) -> bool:
        """A reused file taken as it is: the earlier edition's URL and md5, nothing built or copied."""
        return self.source == REUSED and self.from_name == self.name and self.edition != ""

    @property
    def url(self) -> str:
        return f"{self.host_url}/{self.name}"


@dataclass(frozen=True)
class SketchSettings:
    """The official BinWalk model file at `model`, or one created from `sample_rows` rows of
    the PCA training subset with `seed` when `model` is None."""

    model: Path | None
    seed: int
    sample_rows: int


@dataclass(frozen=True)
class SampleSettings:
    """Synthetic parts 0..parts-1 of `rows` rows each, drawn around `clusters` centres."""

    parts: int
    rows: int
    clusters: int
    seed: int


@dataclass(frozen=True)
class Release:
    """One edition. `edition` is its id (the release file's name without .yml); `base` the
    earlier edition it reuses bundles from (read from the file of that id beside this one);
    `hosts` the URL folders its files are published under, `host` the default one's name (a query
    set's host, then a kind's, override it for their files)."""

    path: str
    edition: str
    name: str
    date: str
    hosts: tuple[tuple[str, str], ...]
    host: str
    subsets: tuple[Subset, ...]
    query_sets: tuple[QuerySet, ...]
    kinds: tuple[BundleKind, ...]
    pca_train: str
    sketches: SketchSettings
    recall_k: int
    recall_queries: str
    recall_machine: str
    sample: SampleSettings | None
    base: Release | None = None
    _cache: dict[str, list[Bundle]] = field(default_factory=dict, compare=False, repr=False, hash=False)

    @property
    def base_url(self) -> str:
        return dict(self.hosts).get(self.host, "")

    def subset(self, label: str) -> Subset:
        for spec in self.subsets:
            if spec.label == label:
                return spec
        raise KeyError(label)

    def query_set(self, label: str) -> QuerySet:
        for spec in self.query_sets:
            if spec.label == label:
                return spec
        raise KeyError(label)

    def is_query_label(self, label: str) -> bool:
        return any(spec.label == label for spec in self.query_sets)

    @property
    def labels(self) -> list[str]:
        return [spec.label for spec in self.subsets]

    @property
    def query_labels(self) -> list[str]:
        return [spec.label for spec in self.query_sets]

    def kinds_of(self, computation: str) -> list[BundleKind]:
        return [kind for kind in self.kinds if kind.of == computation]

    def kind(self, kind_id: str) -> BundleKind | None:
        return next((kind for kind in self.kinds if kind.id == kind_id), None)

    @property
    def embeddings(self) -> BundleKind:
        """The one kind of `of: embeddings`, whose files every other computation reads."""
        return self.kinds_of(EMBEDDINGS)[0]

    def embeddings_bundle(self, label: str) -> Bundle:
        """The 768d vectors of a subset or of a query set."""
        return self.bundle(self.embeddings, label)

    def embeddings_file(self, label: str) -> str:
        return self.embeddings_bundle(label).name

    def gold_kinds(self, queries: str) -> list[BundleKind]:
        return [kind for kind in self.kinds_of(GOLD) if kind.queries == queries]

    def gold_query_sets(self) -> list[str]:
        """The query sets that have gold standards, in definition order."""
        return [q for q in self.query_labels if self.gold_kinds(q)]

    def bundles(self) -> list[Bundle]:
        """Every bundle of the edition: per kind, the published ones in `publish` order, then the
        others in subset order (the query sets last)."""
        if "bundles" not in self._cache:
            bundles = []
            for kind in self.kinds:
                labels = ([self.pca_train] if kind.of == PCA_MODEL else
                          self.labels + ([] if kind.of == GOLD else
                                         [q for q in self.query_labels if kind.makes_queries(q)]))
                for label in list(kind.publish) + [label for label in labels if label not in kind.publish]:
                    bundles.append(self._bundle(kind, label))
            self._cache["bundles"] = bundles
        return list(self._cache["bundles"])

    def published(self) -> list[Bundle]:
        return [bundle for bundle in self.bundles() if bundle.published]

    def bundles_of(self, kind: BundleKind) -> list[Bundle]:
        return [bundle for bundle in self.bundles() if bundle.kind == kind]

    def bundle(self, kind: BundleKind, label: str) -> Bundle:
        for bundle in self.bundles():
            if bundle.kind.id == kind.id and bundle.subset == label:
                return bundle
        raise KeyError(f"{kind.id}/{label}")

    def _host_url(self, kind: BundleKind, queries: QuerySet | None) -> str:
        name = (queries.host if queries else None) or kind.host or self.host
        return dict(self.hosts).get(name, "")

    def _bundle(self, kind: BundleKind, label: str) -> Bundle:
        published = label in kind.publish
        if kind.of != GOLD and self.is_query_label(label):
            spec = self.query_set(label)
            name = kind.queries_file_name(label) or ""
            layout = kind.queries_layout or kind.layout
            bundle = Bundle(name, kind, label, layout, spec.count, spec.rows_text, published, BUILT, self.edition,
                            label, self._host_url(kind, spec))
            if spec.source == EXTERNAL and kind.of == EMBEDDINGS:
                return _with(bundle, source=EXTERNAL)
            if spec.source == REUSED:
                return self._reused(bundle, spec.reused_label)
            return bundle
        subset = self.subset(label)
        if kind.of == PCA_MODEL:
            return Bundle(kind.file_name(label), kind, label, kind.layout, None, "", published, BUILT, self.edition,
                          None, self._host_url(kind, None))
        if kind.of == GOLD:
            queries = self.query_set(kind.queries or "")
            return Bundle(kind.file_name(label), kind, label, kind.layout, queries.count, queries.rows_text,
                          published, BUILT, self.edition, queries.label, self._host_url(kind, queries))
        bundle = Bundle(kind.file_name(label), kind, label, kind.layout, subset.known_rows, subset.rows_text,
                        published, BUILT, self.edition, None, self._host_url(kind, None))
        if subset.source == EXTERNAL and kind.of == EMBEDDINGS:
            return _with(bundle, source=EXTERNAL)
        if subset.source == REUSED:
            return self._reused(bundle, label)
        return bundle

    def _reused(self, bundle: Bundle, base_label: str) -> Bundle:
        """A bundle of a reused subset or query set: the earlier edition's file of the same kind,
        referenced under its own name or copied under this edition's; BUILT where the earlier
        edition has no such file (a new representation of reused vectors)."""
        earlier_kind = self.base.kind(bundle.kind.id) if self.base else None
        if self.base is None or earlier_kind is None:
            return bundle
        try:
            earlier = self.base.bundle(earlier_kind, base_label)
        except KeyError:
            return bundle
        if earlier.name == bundle.name:
            return _with(earlier, kind=bundle.kind, published=bundle.published, subset=bundle.subset,
                         source=REUSED, from_edition=earlier.edition, from_name=earlier.name,
                         queries=bundle.queries)
        return _with(bundle, source=REUSED, from_edition=earlier.edition, from_name=earlier.name)

    @property
    def parts(self) -> list[int]:
        """Every part number any stage of this edition reads, ascending."""
        numbers = {spec.part for spec in self.query_sets if spec.source in (DRAWN, SELECTED) and spec.part is not None}
        for spec in self.subsets:
            numbers.update(spec.parts)
        return sorted(numbers)

    def gold_k(self, queries: str) -> int:
        """The most neighbours any gold standard of a query set holds: what the gold stage computes."""
        return max(kind.layout.cols or 0 for kind in self.gold_kinds(queries))

    @property
    def recall_gold(self) -> BundleKind:
        """The gold standard the recall table is scored against: the smallest holding recall k."""
        return min((kind for kind in self.gold_kinds(self.recall_queries) if (kind.layout.cols or 0) >= self.recall_k),
                   key=lambda kind: kind.layout.cols or 0)

    @property
    def sketch_refs(self) -> int:
        return SKETCH_GROUP * (self.kinds_of(SKETCHES)[0].layout.cols or 0)

    def pca_model_file(self) -> str:
        """The fitted PCA model (arrays pca<d>_mean, pca<d>_components, pca<d>_eigenvalues per dimension):
        the bundle of `of: pca-model` where the edition publishes it, else a file kept beside the artifacts."""
        kinds = self.kinds_of(PCA_MODEL)
        return kinds[0].file_name(self.pca_train) if kinds else f"models/pca-{self.pca_train}.h5"

    def created_sketch_model_file(self) -> str:
        return f"models/binwalk-{self.pca_train}-seed={self.sketches.seed}.h5"


def _with(bundle: Bundle, **changes: object) -> Bundle:
    return replace(bundle, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Admonition:
    """A warning of the page; shown for an edition only where every fact of `requires` is not empty."""

    id: str
    level: str
    title: str
    text: str
    requires: tuple[str, ...] = ()


@dataclass(frozen=True)
class GroupWording:
    """How the page presents one kind of bundle: its section title, intro and descriptions."""

    id: str
    title: str
    intro: str
    database: str
    queries: str | None
    origin: Origin


@dataclass(frozen=True)
class Links:
    """Where the page points (http(s) URLs): LAION-5B's announcement, paper and metadata, the
    mirror folder of the original parts (holding img_emb/ and laion2B-en-metadata/), the
    challenge's evaluation scripts, the licence of the data, and where to ask questions."""

    blog: str
    paper: str
    metadata: str
    parts: str
    evaluation: str
    license: str
    contact: str


LINK_NAMES = ("blog", "paper", "metadata", "parts", "evaluation", "license", "contact")


@dataclass(frozen=True)
class Wording:
    """The texts of the datasets page (data/page.yml), with placeholders still in them."""

    path: str
    subset_phrases: dict[str, str]   # NSFW rule -> phrase naming a subset
    external_subset_phrase: str      # a subset made outside the project
    query_phrases: dict[str, str]    # source of a query set -> phrase naming it
    groups: dict[str, GroupWording]
    warnings: tuple[Admonition, ...]
    links: Links
