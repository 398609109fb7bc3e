"""The pipeline config reader: the shipped configs, and errors that name the key and its line."""
from __future__ import annotations

from pathlib import Path

import pytest

from generator.errors import InputError
from generator.inputs.pipeline_config import parse_pipeline_config, read_pipeline_config

DATA = Path(__file__).resolve().parents[1] / "data"
VALID = """\
subsets:
  - {label: 100K, parts: [1, 1], rule: dev, rows: 100000}
  - {label: 10M, parts: [1, 11], rule: strict}
queries: {part: 0, count: 10000, seed: 0}
pca: {dims: [32, 96], train: 10M}
sketches:
  create: {seed: 0, refs: 1024, sample_rows: 100000}
gold: {k: 100, k_f64: 1000}
recall: {k: 30}
"""


def test_the_challenge_config_reproduces_spec_section_2():
    config = read_pipeline_config(DATA / "pipeline.yml")
    subsets = {s.label: (s.first_part, s.last_part, s.rule, s.rows) for s in config.subsets}
    assert subsets == {"100K": (1, 1, "dev", 100000), "300K": (1, 1, "dev", 300000),
                       "10M": (1, 11, "strict", None), "30M": (1, 33, "strict", None),
                       "100M": (1, 111, "strict", None)}
    assert (config.queries.part, config.queries.count) == (0, 10000)
    assert config.pca.dims == (32, 96) and config.pca.train == "10M"
    assert config.sketches.model.name == "binwalk-model-nrefs=1024-permsize=64.jld2"
    assert (config.gold.k, config.gold.k_f64, config.recall_k) == (100, 1000, 30)
    assert config.parts == list(range(0, 112))


def test_the_sample_config_has_the_same_structure_at_small_scale():
    config = read_pipeline_config(DATA / "pipeline-sample.yml")
    assert config.sample is not None and config.queries.part == 0
    assert {s.rule for s in config.subsets} == {"dev", "strict"}
    assert max(config.parts) < config.sample.parts
    assert config.sketches.model is None


@pytest.mark.parametrize("change, line, message", [
    (("  - {label: 10M, parts: [1, 11], rule: strict}", "  - {label: 10M, part: [1, 11], rule: strict}"),
     3, "unknown key 'part'"),
    (("rule: strict}", "rule: loose}"), 3, "must be one of strict, dev, not 'loose'"),
    (("rule: dev, rows: 100000}", "rule: dev}"), 2, "needs 'rows'"),
    (("parts: [1, 11]", "parts: [11, 1]"), 3, "comes before the first"),
    (("train: 10M", "train: 30M"), 5, "'30M' is not one of the subsets"),
    (("gold: {k: 100, k_f64: 1000}", "gold: {k: 1000, k_f64: 100}"), 8, "must not exceed k_f64"),
    (("recall: {k: 30}", "recall: {k: 30}\nextra: 1"), 10, "unknown key 'extra'"),
    (("sample_rows: 100000", "sample_rows: 10"), 7, "at least the references"),
    (("  - {label: 10M,", "  - {label: 100K,"), 3, "defined twice"),
])
def test_a_wrong_config_is_an_error_naming_its_line(change, line, message):
    old, new = change
    assert old in VALID
    with pytest.raises(InputError) as error:
        parse_pipeline_config(VALID.replace(old, new), "pipeline.yml")
    assert f"pipeline.yml:{line}: " in str(error.value) and message in str(error.value), str(error.value)


def test_model_paths_are_relative_to_the_config_folder():
    text = VALID.replace("  create: {seed: 0, refs: 1024, sample_rows: 100000}", "  model: models/binwalk.jld2")
    config = parse_pipeline_config(text, "conf/pipeline.yml")
    assert config.sketches.model == Path("conf/models/binwalk.jld2")


def test_invalid_yaml_names_the_line():
    with pytest.raises(InputError) as error:
        parse_pipeline_config(VALID + "pca: [\n", "pipeline.yml")
    assert "pipeline.yml:" in str(error.value) and "not valid YAML" in str(error.value)
