"""The make rules of a pipeline config: one rule per output file, prerequisites the files it reads.

The text refers to $(PARTS), $(OUT), $(CONFIG) and $(PIPELINE) (the command prefix) of the
Makefile that includes it, so it depends on the config alone. File names hold '=', which
make would take for an assignment in a rule line; every path is therefore a variable.
"""
from __future__ import annotations

from generator.models.pipeline import (QUERIES, PipelineConfig, created_sketch_model_file, database_file,
                                       gold_file, meta_file, pca_model_file, published_names, queries_file,
                                       RECALL_FILE, vectors_file)
from generator.inputs.manifests import BYTES_FILE, MD5_FILE, SIZES_FILE, URLS_FILE

MANIFEST_FILES = (MD5_FILE, SIZES_FILE, BYTES_FILE, URLS_FILE)


class _Rules:
    def __init__(self):
        self.variables: dict[str, str] = {}
        self.lines: list[str] = []

    def path(self, folder: str, name: str) -> str:
        """A file of the folder variable PARTS or OUT."""
        return self.file("PIPELINE_FILE_" + "".join(c if c.isalnum() else "_" for c in name), f"$({folder})/{name}")

    def file(self, variable: str, path: str) -> str:
        self.variables[variable] = path
        return f"$({variable})"

    def rule(self, targets: list[str], prerequisites: list[str], command: str) -> None:
        grouped = " &:" if len(targets) > 1 else ":"
        self.lines.append(f"{' '.join(targets)}{grouped} {' '.join(['$(CONFIG)'] + prerequisites)}")
        self.lines.append(f"\t$(PIPELINE) {command}")
        self.lines.append("")

    def group(self, name: str, targets: list[str]) -> None:
        self.lines.append(f"PIPELINE_{name} := {' '.join(targets)}")


def make_rules(config: PipelineConfig) -> str:
    rules = _Rules()
    out = lambda name: rules.path("OUT", name)  # noqa: E731 (a short alias keeps the rules readable)

    def part_files(numbers) -> list[str]:
        return [rules.path("PARTS", f"{folder}/{stem}_{n:04d}.{ext}") for n in numbers
                for folder, stem, ext in (("img_emb", "img_emb", "npy"),
                                          ("laion2B-en-metadata", "metadata", "parquet"))]

    labels = [spec.label for spec in config.subsets]
    train = out(database_file("clip768", config.pca.train))
    queries = out(queries_file("clip768"))

    for spec in config.subsets:
        rules.rule([out(database_file("clip768", spec.label))], part_files(spec.parts), f"subset {spec.label}")
        rules.rule([out(meta_file(spec.label))], part_files(spec.parts), f"meta {spec.label}")
    rules.rule([queries], part_files([config.queries.part]), "queries")

    pca_model = out(pca_model_file(config))
    rules.rule([pca_model], [train], "pca-model")
    if config.sketches.model is None:
        sketch_model = out(created_sketch_model_file(config))
        rules.rule([sketch_model], [train], "sketch-model")
        sketch_prerequisites = [sketch_model]
    else:
        sketch_prerequisites = [rules.file("PIPELINE_SKETCH_MODEL", str(config.sketches.model))]
    for label in labels + [QUERIES]:
        source = out(vectors_file("clip768", label))
        pca_files = [out(vectors_file(f"pca{d}", label)) for d in config.pca.dims]
        rules.rule(pca_files, [pca_model, source], f"pca {label}")
        rules.rule([out(vectors_file("hamming", label))], sketch_prerequisites + [source], f"hamming {label}")
    for label in labels:
        rules.rule([out(gold_file(label)), out(gold_file(label, f64=True))],
                   [out(database_file("clip768", label)), queries], f"gold {label}")

    projected = [out(vectors_file(kind, label)) for kind in config.projections for label in labels + [QUERIES]]
    recall = out(RECALL_FILE)
    rules.rule([recall], projected + [out(gold_file(label)) for label in labels], "recall")
    published = [out(name) for name in published_names(config)]
    manifests = [out(name) for name in MANIFEST_FILES]
    rules.rule(manifests, published, "manifests --base-url '$(BASE_URL)'")

    rules.group("SUBSETS", [out(database_file("clip768", label)) for label in labels])
    rules.group("QUERIES", [queries])
    rules.group("PCA", [out(vectors_file(f"pca{d}", label)) for d in config.pca.dims for label in labels + [QUERIES]])
    rules.group("HAMMING", [out(vectors_file("hamming", label)) for label in labels + [QUERIES]])
    rules.group("GOLD", [out(gold_file(label, f64)) for label in labels for f64 in (False, True)])
    rules.group("META", [out(meta_file(label)) for label in labels])
    rules.group("RECALL", [recall])
    rules.group("MANIFESTS", manifests)
    rules.group("ALL", published + [recall] + manifests)

    # A part file no rule makes: when it is missing, the check names it (and any other problem).
    part_rules = [f"$({variable}):\n\t@$(PIPELINE) check-parts\n" for variable in sorted(rules.variables)
                  if rules.variables[variable].startswith("$(PARTS)")]
    header = ["# Make rules of the pipeline config, written by `python -m generator pipeline rules`.", ""]
    variables = [f"{name} := {value}" for name, value in rules.variables.items()]
    return "\n".join(header + variables + [""] + rules.lines + [""]) + "\n" + "\n".join(part_rules)
