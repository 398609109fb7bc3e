"""The make rules of a release, from the stage table: one rule per stage and label, its targets
the stage's files, its prerequisites the files the stage reads.

A stage's files also depend on its stamp file in OUT/.stamps (`stamp_texts`), never on the
release file as a whole: an edit of the release rebuilds only the stages whose part of it
changed. The text refers to $(RULE_PARTS), $(RULE_OUT) (the folders as make's rules can hold
them: spaces escaped), $(PIPELINE) (the command prefix) and $(BASE_URL) of the Makefile that
includes it, so it depends on the release alone. File names
hold '=', which make would take for an assignment in a rule line; every path is therefore a
variable. `PIPELINE_<TARGET>` lists the files of each make target of the stage table, and
`PIPELINE_ALL` every file.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable

from generator.pipeline.parts import npy_path, parquet_path
from generator.pipeline.stages import STAGES, TARGETS, Stage, external_files
from generator.release.model import Release


class _Rules:
    def __init__(self) -> None:
        self.variables: dict[str, str] = {}
        self.lines: list[str] = []

    def path(self, folder: str, name: str) -> str:
        """A file of the folder variable RULE_PARTS or RULE_OUT."""
        return self.file("PIPELINE_FILE_" + "".join(c if c.isalnum() else "_" for c in name), f"$({folder})/{name}")

    def file(self, variable: str, path: str) -> str:
        self.variables[variable] = path
        return f"$({variable})"

    def part_files(self, numbers: Iterable[int]) -> list[str]:
        return [self.path("RULE_PARTS", path(Path(), n).as_posix())
                for n in numbers for path in (npy_path, parquet_path)]

    def rule(self, targets: list[str], prerequisites: list[str], command: str) -> None:
        """The first target made from the prerequisites by the command; every other target of
        the command from the same prerequisites, after the first (order-only), by the command
        again only when the first's run did not leave it (the command writes them all, in no
        fixed order of time). Not a grouped target (`&:`): make -n does not take the files of
        a grouped rule it would run for new, and would not list what depends on them
        (docs/design/pipeline.md#rebuild-dependencies)."""
        first, *others = targets
        needs = " ".join(prerequisites)
        self.lines += [f"{first}: {needs}", f"\t$(PIPELINE) {command}", ""]
        for other in others:
            self.lines += [f"{other}: {needs} | {first}", f"\t@test -e $(call quote,$@) || $(PIPELINE) {command}", ""]


def make_rules(release: Release) -> str:
    rules = _Rules()
    groups: dict[str, list[str]] = {target: [] for target in TARGETS}
    for stage in STAGES:
        for label in stage.labels(release):
            targets = [rules.path("RULE_OUT", name) for name in stage.outputs(release, label)]
            needs = stage.needs(release, label)
            prerequisites = ([rules.path("RULE_OUT", stamp_name(stage, label))] + rules.part_files(needs.parts)
                             + [rules.path("RULE_OUT", name) for name in needs.out]
                             + [rules.file(f"PIPELINE_INPUT_{i}", str(path).replace(" ", "\\ "))
                                for i, path in enumerate(needs.files)])
            command = stage.name + (f" {label}" if label is not None else "")
            if stage.name == "manifests":
                command += " $(if $(BASE_URL),--base-url $(call quote,$(BASE_URL)))"
            rules.rule(targets, prerequisites, command)
            groups[stage.target] += targets
    for target, files in groups.items():
        rules.lines.append(f"PIPELINE_{target.upper()} := {' '.join(files)}")
    rules.lines.append(f"PIPELINE_ALL := {' '.join(f for files in groups.values() for f in files)}")

    # A part file no rule makes: when it is missing, the check names it (and any other problem).
    part_rules = [f"$({variable}):\n\t@$(PIPELINE) check-parts\n" for variable in sorted(rules.variables)
                  if rules.variables[variable].startswith("$(RULE_PARTS)")]
    # A file of an earlier edition, or an external file of this one: made elsewhere, so a missing
    # one stops make with a message saying where it comes from.
    externals = set(external_files(release))
    for variable in sorted(rules.variables):
        path = rules.variables[variable]
        name = path.removeprefix("$(RULE_OUT)/")
        if path.startswith("$(RULE_OUT)/../"):
            edition = name.split("/")[1]
            part_rules.append(f"$({variable}):\n\t@echo 'error: '$(call quote,$@)' belongs to edition {edition}: "
                              "build it "
                              f"first (make artifacts EDITION={edition})' >&2; exit 1\n")
        elif path.startswith("$(RULE_OUT)/") and name in externals:
            part_rules.append(f"$({variable}):\n\t@echo 'error: '$(call quote,$@)' is an external file of edition "
                              f"{release.edition}: the pipeline does not make it; put it there' >&2; exit 1\n")
    header = ["# Make rules of the release, written by `python -m generator pipeline rules`.", ""]
    variables = [f"{name} := {value}" for name, value in rules.variables.items()]
    return "\n".join(header + variables + [""] + rules.lines + [""]) + "\n" + "\n".join(part_rules)


STAMPS = ".stamps"  # the folder of OUT holding each stage's stamp file


def stamp_name(stage: Stage, label: str | None) -> str:
    """The stamp file of a stage's files of `label`, relative to OUT."""
    return f"{STAMPS}/{stage.name}" + (f"-{label}" if label is not None else "") + ".json"


def stamp_texts(release: Release) -> dict[str, str]:
    """{stamp file: its text} of every stage and label of the release: what the stage's files are
    made from besides the files it reads (Stage.stamp). Written only when its text changes
    (io.files.write_if_changed), a stamp is newer than a stage's files exactly when the part of
    the definition the stage reads, its version or its numerics changed since they were made.

    Example: stamp_texts(release)[".stamps/pca-model.json"] holds the training subset, the
    dimensions, the stage's version and BLOCK_ROWS and COVARIANCE_ROWS.
    """
    return {stamp_name(stage, label): json.dumps(stage.stamp(release, label), indent=1, sort_keys=True) + "\n"
            for stage in STAGES for label in stage.labels(release)}
