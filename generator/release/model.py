"""Records of the pipeline config (data/pipeline.yml) and the names of what the pipeline writes (SPEC §2)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from generator.errors import Origin

EMBEDDING_DIM = 768
SKETCH_WORDS = 16
SKETCH_GROUP = 64  # references per 64-bit word
STRICT, DEV = "strict", "dev"
NSFW_RULES = (STRICT, DEV)
NSFW_COLUMN = "NSFW"
META_COLUMNS = ("caption", "NSFW", "LICENSE", "url")
RECALL_FILE = "recall-projections.csv"
RECALL_COLUMNS = ("data", "size", "algo", "buildtime", "querytime", "params", "recall")


@dataclass(frozen=True)
class SubsetSpec:
    """A database subset: parts first..last concatenated in order under an NSFW rule.

    `strict` keeps rows whose NSFW value is present and not "NSFW"; `dev` drops only
    rows marked "NSFW" and stops after `rows` rows (SPEC §2).
    """

    label: str
    first_part: int
    last_part: int
    rule: str
    rows: int | None
    origin: Origin

    @property
    def parts(self) -> range:
        return range(self.first_part, self.last_part + 1)


@dataclass(frozen=True)
class QuerySpec:
    part: int
    count: int
    seed: int


@dataclass(frozen=True)
class PCASpec:
    dims: tuple[int, ...]
    train: str


@dataclass(frozen=True)
class SketchSpec:
    """The BinWalk model: the official file at `model`, or one created from `sample_rows`
    rows of the training subset with `seed` when `model` is None."""

    model: Path | None
    seed: int
    refs: int
    sample_rows: int


@dataclass(frozen=True)
class GoldSpec:
    k: int
    k_f64: int


@dataclass(frozen=True)
class SampleSpec:
    """Synthetic parts 0..parts-1 of `rows` rows each, drawn around `clusters` centres."""

    parts: int
    rows: int
    clusters: int
    seed: int


@dataclass(frozen=True)
class PipelineConfig:
    path: str
    subsets: tuple[SubsetSpec, ...]
    queries: QuerySpec
    pca: PCASpec
    sketches: SketchSpec
    gold: GoldSpec
    recall_k: int
    sample: SampleSpec | None

    def subset(self, label: str) -> SubsetSpec:
        for spec in self.subsets:
            if spec.label == label:
                return spec
        raise KeyError(label)

    @property
    def projections(self) -> tuple[str, ...]:
        return tuple(f"pca{d}" for d in self.pca.dims) + ("hamming",)

    @property
    def parts(self) -> list[int]:
        """Every part number any stage reads, ascending."""
        numbers = {self.queries.part}
        for spec in self.subsets:
            numbers.update(spec.parts)
        return sorted(numbers)


# File names of SPEC §2. `kind` is clip768, pca<d> or hamming.
QUERIES = "queries"


def h5_key(kind: str) -> str:
    return "emb" if kind == "clip768" else kind


def database_file(kind: str, label: str) -> str:
    return f"laion2B-en-{kind}v2-n={label}.h5"


def queries_file(kind: str) -> str:
    return f"public-queries-10k-{kind}v2.h5"


def vectors_file(kind: str, label: str) -> str:
    """The file of `kind` vectors for a subset label, or for the queries when label is QUERIES."""
    return queries_file(kind) if label == QUERIES else database_file(kind, label)


def gold_file(label: str, f64: bool = False) -> str:
    return f"laion2B-en-public-gold-standard-v2-{label}{'-F64-IEEE754' if f64 else ''}.h5"


def meta_file(label: str) -> str:
    return f"meta-{label}.tsv"


def npy_path(parts: Path, number: int) -> Path:
    return Path(parts) / "img_emb" / f"img_emb_{number:04d}.npy"


def parquet_path(parts: Path, number: int) -> Path:
    return Path(parts) / "laion2B-en-metadata" / f"metadata_{number:04d}.parquet"


def published_names(config: PipelineConfig) -> list[str]:
    """Every bundle of SPEC §2 the config produces, grouped by kind as the page lists them."""
    labels = [spec.label for spec in config.subsets]
    names = []
    for kind in ("clip768",) + config.projections:
        names += [database_file(kind, label) for label in labels] + [queries_file(kind)]
    names += [gold_file(label, f64) for label in labels for f64 in (False, True)]
    names += [meta_file(label) for label in labels]
    return names


def pca_model_file(config: PipelineConfig) -> str:
    """The fitted PCA models (one group per dimension), kept beside the artifacts for reuse."""
    return f"models/pca-{config.pca.train}.h5"


def created_sketch_model_file(config: PipelineConfig) -> str:
    return f"models/binwalk-{config.pca.train}-seed={config.sketches.seed}.h5"
