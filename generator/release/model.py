"""The release definition (docs/design/releases.md#release-definition): which subsets, query set and kinds of
bundle exist, their
file names, layouts and whether they are published, with the pipeline's settings; and the
wording of its page.

One `Release` is read from one data file (data/release.yml, data/release-sample.yml). The
pipeline's stages and make rules, the manifests, the page's tables, the participants'
`download --group/--subset` and the tests all take the bundles from `Release.bundles()`.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from generator.errors import Origin

EMBEDDING_DIM = 768   # CLIP ViT-L/14 (docs/design/data.md#parts)
SKETCH_GROUP = 64     # references per 64-bit sketch word
STRICT, DEV = "strict", "dev"
NSFW_RULES = (STRICT, DEV)
NSFW_COLUMN = "NSFW"

# What computes a kind of bundle (`of` in the release file).
EMBEDDINGS, PCA, SKETCHES, GOLD, META = "embeddings", "pca", "sketches", "gold", "meta"
COMPUTATIONS = (EMBEDDINGS, PCA, SKETCHES, GOLD, META)
SUBSET_PLACEHOLDER = "{subset}"


@dataclass(frozen=True)
class Subset:
    """A database subset: parts first..last concatenated in order under an NSFW rule.

    `strict` keeps rows whose NSFW value is present and not "NSFW"; `dev` drops only rows
    marked "NSFW" and stops after `rows` rows (docs/design/data.md#nsfw-rules). `count` (exact) or `about` (text)
    states the size of a strict subset where it is known before it is built.
    """

    label: str
    first_part: int
    last_part: int
    rule: str
    rows: int | None
    count: int | None
    about: str | None
    origin: Origin

    @property
    def parts(self) -> range:
        return range(self.first_part, self.last_part + 1)

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
class QuerySet:
    """`count` rows of part `part`, chosen with `seed` (docs/design/data.md#query-sets); `label` names it where a
    subset label would stand (`make download SUBSET=queries`)."""

    label: str
    part: int
    count: int
    seed: int
    origin: Origin

    @property
    def rows_text(self) -> str:
        return f"{self.count:,}"


@dataclass(frozen=True)
class DatasetLayout:
    """One HDF5 dataset of a bundle: key, dtype (a numpy name) and second dimension."""

    key: str
    dtype: str
    cols: int


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
    """One entry of `bundles`: a kind of bundle, made for every subset (and the queries when
    it has a `queries_file`) and published for the labels of `publish`, in that order."""

    id: str
    of: str
    file: str
    queries_file: str | None
    layout: Layout
    queries_layout: Layout | None
    publish: tuple[str, ...]
    origin: Origin

    def file_name(self, label: str) -> str:
        return self.file.replace(SUBSET_PLACEHOLDER, label)

    @property
    def queries_name(self) -> str:
        """The queries' file of a kind made for the queries."""
        if self.queries_file is None:
            raise ValueError(f"bundles '{self.id}' are not made for the queries")
        return self.queries_file


@dataclass(frozen=True)
class Bundle:
    """One file of the release.

    `subset` is the label it belongs to (a subset, or the query set's label); its rows are
    the objects of that subset, except for gold standards, which have a row per query.
    """

    name: str
    kind: BundleKind
    subset: str
    layout: Layout
    rows: int | None
    rows_text: str
    published: bool

    @property
    def group(self) -> str:
        return self.kind.id


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
    path: str
    name: str
    base_url: str
    subsets: tuple[Subset, ...]
    queries: QuerySet
    kinds: tuple[BundleKind, ...]
    pca_train: str
    sketches: SketchSettings
    recall_k: int
    sample: SampleSettings | None

    def subset(self, label: str) -> Subset:
        for spec in self.subsets:
            if spec.label == label:
                return spec
        raise KeyError(label)

    @property
    def labels(self) -> list[str]:
        return [spec.label for spec in self.subsets]

    def kinds_of(self, computation: str) -> list[BundleKind]:
        return [kind for kind in self.kinds if kind.of == computation]

    @property
    def embeddings(self) -> BundleKind:
        """The one kind of `of: embeddings`, whose files every other computation reads."""
        return self.kinds_of(EMBEDDINGS)[0]

    def embeddings_file(self, label: str) -> str:
        """The 768d vectors of a subset, or of the queries for the query set's label."""
        kind = self.embeddings
        return kind.queries_name if label == self.queries.label else kind.file_name(label)

    def bundles(self) -> list[Bundle]:
        """Every bundle the pipeline builds: per kind, the published ones in `publish` order,
        then the others in subset order (the queries last)."""
        bundles = []
        for kind in self.kinds:
            labels = [label for label in self.labels if label not in kind.publish]
            if kind.queries_file is not None and self.queries.label not in kind.publish:
                labels.append(self.queries.label)
            for label in list(kind.publish) + labels:
                bundles.append(self._bundle(kind, label, label in kind.publish))
        return bundles

    def published(self) -> list[Bundle]:
        return [bundle for bundle in self.bundles() if bundle.published]

    def bundles_of(self, kind: BundleKind) -> list[Bundle]:
        return [bundle for bundle in self.bundles() if bundle.kind == kind]

    def bundle(self, kind: BundleKind, label: str) -> Bundle:
        return self._bundle(kind, label, label in kind.publish)

    def _bundle(self, kind: BundleKind, label: str, published: bool) -> Bundle:
        if label == self.queries.label:
            return Bundle(kind.queries_name, kind, label, kind.queries_layout or kind.layout,
                          self.queries.count, self.queries.rows_text, published)
        rows: int | None
        if kind.of == GOLD:
            rows, rows_text = self.queries.count, self.queries.rows_text
        else:
            subset = self.subset(label)
            rows, rows_text = subset.known_rows, subset.rows_text
        return Bundle(kind.file_name(label), kind, label, kind.layout, rows, rows_text, published)

    @property
    def parts(self) -> list[int]:
        """Every part number any stage reads, ascending."""
        numbers = {self.queries.part}
        for spec in self.subsets:
            numbers.update(spec.parts)
        return sorted(numbers)

    @property
    def gold_k(self) -> int:
        """The most neighbours any gold standard holds: what the gold stage computes."""
        return max(kind.layout.vector_cols for kind in self.kinds_of(GOLD))

    @property
    def recall_gold(self) -> BundleKind:
        """The gold standard the recall table is scored against: the smallest holding recall k."""
        return min((kind for kind in self.kinds_of(GOLD) if kind.layout.vector_cols >= self.recall_k),
                   key=lambda kind: kind.layout.vector_cols)

    @property
    def sketch_refs(self) -> int:
        return SKETCH_GROUP * self.kinds_of(SKETCHES)[0].layout.vector_cols

    def pca_model_file(self) -> str:
        """The fitted PCA model (one group per dimension), kept beside the artifacts for reuse."""
        return f"models/pca-{self.pca_train}.h5"

    def created_sketch_model_file(self) -> str:
        return f"models/binwalk-{self.pca_train}-seed={self.sketches.seed}.h5"


@dataclass(frozen=True)
class Admonition:
    id: str
    level: str
    title: str
    text: str


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
    mirror folder of the original parts (holding img_emb/ and laion2B-en-metadata/), and the
    challenge's evaluation scripts."""

    blog: str
    paper: str
    metadata: str
    parts: str
    evaluation: str


LINK_NAMES = ("blog", "paper", "metadata", "parts", "evaluation")


@dataclass(frozen=True)
class Wording:
    """The texts of the datasets page (data/page.yml), with placeholders still in them."""

    path: str
    subset_phrases: dict[str, str]   # NSFW rule -> phrase naming a subset
    queries_phrase: str
    groups: dict[str, GroupWording]
    warnings: tuple[Admonition, ...]
    links: Links
