# The interface of the project (SPEC §5). Every target creates the virtual
# environment it needs on first use; Python 3 and make are all a machine needs.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
ENV_STAMP := $(VENV)/.installed

# Site inputs: DATA holds the three manifests; STRICT=0 renders despite problems;
# ARTIFACTS, when set, is a folder of produced files whose layout, size and md5
# are read and checked against the manifests.
DATA ?= data
CATALOG ?= data/catalog.yml
RECALL ?= $(DATA)/recall-projections.csv
STRICT ?= 1
ARTIFACTS ?=

# Participants' tools: DIR is the folder of downloaded files; MANIFEST the md5
# manifest verify checks against (size manifests next to it are used too);
# REQUIRE_ALL=1 fails on files of the manifest missing from DIR; NO_CACHE=1 hashes
# every file again. download takes FILES (names), GROUP or SUBSET (catalog ids);
# MIRROR replaces everything before the file name in each URL.
DIR ?= downloads
MANIFEST ?= $(DATA)/dataset-files-md5.txt
REQUIRE_ALL ?= 0
NO_CACHE ?= 0
FILES ?=
GROUP ?=
SUBSET ?=
MIRROR ?=

# Pipeline inputs (SPEC §5, §6): SAMPLE is where `make sample` writes synthetic parts;
# PARTS the folder of LAION parts the pipeline reads; OUT where artifacts go; CONFIG the
# pipeline config; BASE_URL the URL folder written into the URL manifest.
SAMPLE ?= build/sample/parts
PARTS ?= $(SAMPLE)
OUT ?= build/artifacts
CONFIG ?= data/pipeline-sample.yml
BASE_URL ?= https://sisap-23-challenge.s3.amazonaws.com/SISAP23-Challenge
PIPELINE = $(PY) -m generator pipeline --config $(CONFIG) --parts $(PARTS) --out $(OUT)
PIPELINE_TARGETS := artifacts subsets queries pca hamming gold meta recall manifests
# The rules of the config's files (one per output, prerequisites the files it reads), written
# by the pipeline itself; one rules file per config so that switching configs is safe.
PIPELINE_RULES = $(OUT)/.rules/$(subst /,_,$(CONFIG)).mk

.DEFAULT_GOAL := help
.PHONY: help env site render serve test bench clean deploy sample $(PIPELINE_TARGETS)

help:  ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z-]+):.*## /  make \1\t/' | expand -t 24

env: $(ENV_STAMP)  ## create the virtual environment in .venv

$(ENV_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test,bench]'
	touch $@

render: $(ENV_STAMP)  ## generate docs/datasets.md from the catalog and manifests
	$(PY) -m generator render --data $(DATA) --catalog $(CATALOG) --recall $(RECALL) \
		--strict $(STRICT) $(if $(ARTIFACTS),--artifacts $(ARTIFACTS))

site: render  ## build the static site into site/ (mkdocs build --strict)
	$(BIN)/mkdocs build --strict --quiet

serve: render  ## live preview of the site on http://127.0.0.1:8000
	$(BIN)/mkdocs serve

verify: $(ENV_STAMP)  ## check the files in DIR against MANIFEST (size, then md5; OK / FAILED per file)
	$(PY) -m generator verify '$(DIR)' --manifest '$(MANIFEST)' \
		$(if $(filter 1,$(REQUIRE_ALL)),--require-all) $(if $(filter 1,$(NO_CACHE)),--no-cache)

download: $(ENV_STAMP)  ## resumable, verified download of FILES="..." or GROUP=... or SUBSET=... into DIR
	$(PY) -m generator download $(FILES) --dir '$(DIR)' --data '$(DATA)' --catalog '$(CATALOG)' \
		$(if $(GROUP),--group '$(GROUP)') $(if $(SUBSET),--subset '$(SUBSET)') $(if $(MIRROR),--mirror '$(MIRROR)')

test: $(ENV_STAMP)  ## the whole test suite (what CI runs)
	$(PY) -m pytest

bench: $(ENV_STAMP)  ## benchmarks (ratios against reference tools measured in the same run)
	@set -e; for script in bench/bench_*.py; do $(PY) $$script; done

sample: $(ENV_STAMP)  ## write synthetic LAION parts into SAMPLE (default build/sample/parts)
	$(PY) -m generator pipeline --config $(CONFIG) --parts $(SAMPLE) sample

ifneq ($(filter $(PIPELINE_TARGETS),$(MAKECMDGOALS)),)
include $(PIPELINE_RULES)
endif

$(PIPELINE_RULES): $(CONFIG) generator/work/rules.py generator/models/pipeline.py | $(ENV_STAMP)
	$(PIPELINE) rules --to $@

artifacts: $(PIPELINE_ALL)  ## run the whole pipeline [PARTS=.. OUT=.. CONFIG=..] (default: the sample)
subsets: $(PIPELINE_SUBSETS)  ## database subsets (NSFW rule, concatenation)
queries: $(PIPELINE_QUERIES)  ## the query set from the query part
pca: $(PIPELINE_PCA)  ## PCA projections of subsets and queries
hamming: $(PIPELINE_HAMMING)  ## 1024-bit BinWalk sketches of subsets and queries
gold: $(PIPELINE_GOLD)  ## gold standards (k and k_f64 nearest, exact in float64)
meta: $(PIPELINE_META)  ## metadata tables meta-<subset>.tsv
recall: $(PIPELINE_RECALL)  ## projection recall table recall-projections.csv
manifests: $(PIPELINE_MANIFESTS)  ## md5, size and URL manifests of the artifacts [BASE_URL=..]

clean:  ## remove generated pages, the site and the virtual environment
	rm -rf site docs/datasets.md docs/assets/generated $(VENV) .pytest_cache .hypothesis

deploy: site  ## publish site/ to the gh-pages branch of the origin remote
	$(BIN)/ghp-import --no-jekyll --push --force site
