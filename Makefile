# The interface of the project (SPEC §5). Every target creates the virtual
# environment it needs on first use; Python 3 and make are all a machine needs.

PYTHON ?= python3
# The theme prints an end-of-life notice on every build; it says nothing about this site.
export NO_MKDOCS_2_WARNING := 1
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
ENV_STAMP := $(VENV)/.installed

# The release definition (SPEC §8). Unset, the site and the downloads use the challenge's
# (data/release.yml) and the pipeline targets the sample's (data/release-sample.yml).
RELEASE ?=
SITE_RELEASE = $(or $(RELEASE),data/release.yml)
PIPELINE_RELEASE = $(or $(RELEASE),data/release-sample.yml)

# Site inputs: DATA holds the three manifests; WORDING the page's texts; STRICT=0 renders
# despite problems; ARTIFACTS, when set, is a folder of produced files whose layout, size
# and md5 are read and checked against the manifests. RECALL unset: DATA's recall table,
# else the committed one.
DATA ?= data
WORDING ?= data/page.yml
RECALL ?=
STRICT ?= 1
ARTIFACTS ?=
# Where the site and the project's repository are published (mkdocs.yml reads both from the
# environment; the page's download commands read SITE_URL/datasets.json). Unset: the site as
# `make serve` serves it, and no repository link.
SITE_URL ?=
REPO_URL ?=
export SITE_URL REPO_URL
# The files `make site` writes into docs/ beside the page (they are published with it).
PUBLISHED = docs/datasets.json docs/dataset-files-md5.txt docs/dataset-files-size.txt \
	docs/dataset-files-bytes.txt docs/dataset-files-urls.txt

# Participants' tools: DIR is the folder of downloaded files; MANIFEST the md5
# manifest verify checks against (size manifests next to it are used too);
# REQUIRE_ALL=1 fails on files of the manifest missing from DIR; NO_CACHE=1 hashes
# every file again. download takes FILES (names), GROUP or SUBSET (of the release);
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
# PARTS the folder of LAION parts the pipeline reads; OUT where artifacts go; BASE_URL the
# URL folder written into the URL manifest (unset: the release's base_url).
SAMPLE ?= build/sample/parts
PARTS ?= $(SAMPLE)
OUT ?= build/artifacts
BASE_URL ?=
SAMPLE_SITE ?= build/sample-site
PIPELINE = $(PY) -m generator pipeline --release $(PIPELINE_RELEASE) --parts $(PARTS) --out $(OUT)
# The make targets of the pipeline's stage table (a test checks the two agree).
PIPELINE_TARGETS := artifacts subsets queries meta pca hamming gold recall manifests
# The rules of the release's files (one per output, prerequisites the files it reads),
# written by the pipeline from its stage table; one rules file per release so that
# switching releases is safe.
PIPELINE_RULES = $(OUT)/.rules/$(subst /,_,$(PIPELINE_RELEASE)).mk

.DEFAULT_GOAL := help
.PHONY: help env site render serve test bench clean deploy linkcheck sample sample-site verify download $(PIPELINE_TARGETS)

help:  ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z-]+):.*## /  make \1\t/' | expand -t 24

env: $(ENV_STAMP)  ## create the virtual environment in .venv

$(ENV_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test,bench]'
	touch $@

render: $(ENV_STAMP)  ## generate docs/datasets.md, its index and manifests from the release, wording and manifests
	$(PY) -m generator render --release $(SITE_RELEASE) --wording $(WORDING) --data $(DATA) \
		--strict $(STRICT) $(if $(RECALL),--recall $(RECALL)) $(if $(ARTIFACTS),--artifacts $(ARTIFACTS)) \
		$(if $(SITE_URL),--site-url '$(SITE_URL)')

# Not --quiet: with it, mkdocs counts no warning and --strict fails on none.
site: render  ## build the static site into site/ (mkdocs build --strict)
	$(BIN)/mkdocs build --strict

linkcheck: $(ENV_STAMP)  ## HEAD every download link of the page and compare its size with the manifests (online)
	$(PY) -m generator linkcheck --release $(SITE_RELEASE) --data $(DATA)

serve: render  ## live preview of the site on http://127.0.0.1:8000
	$(BIN)/mkdocs serve

verify: $(ENV_STAMP)  ## check the files in DIR against MANIFEST (size, then md5; OK / FAILED per file)
	$(PY) -m generator verify '$(DIR)' --manifest '$(MANIFEST)' \
		$(if $(filter 1,$(REQUIRE_ALL)),--require-all) $(if $(filter 1,$(NO_CACHE)),--no-cache)

download: $(ENV_STAMP)  ## resumable, verified download of FILES="..." or GROUP=... or SUBSET=... into DIR
	$(PY) -m generator download $(FILES) --dir '$(DIR)' --data '$(DATA)' --release '$(SITE_RELEASE)' \
		$(if $(GROUP),--group '$(GROUP)') $(if $(SUBSET),--subset '$(SUBSET)') $(if $(MIRROR),--mirror '$(MIRROR)')

test: $(ENV_STAMP)  ## the whole test suite (what CI runs)
	$(PY) -m pytest

bench: $(ENV_STAMP)  ## benchmarks (ratios against reference tools measured in the same run)
	@set -e; for script in bench/bench_*.py; do $(PY) $$script; done

sample: $(ENV_STAMP)  ## write synthetic LAION parts into SAMPLE (default build/sample/parts)
	$(PY) -m generator pipeline --release $(PIPELINE_RELEASE) --parts $(SAMPLE) sample

ifneq ($(filter $(PIPELINE_TARGETS),$(MAKECMDGOALS)),)
include $(PIPELINE_RULES)
endif

$(PIPELINE_RULES): $(PIPELINE_RELEASE) $(wildcard generator/pipeline/*.py generator/release/*.py) | $(ENV_STAMP)
	$(PIPELINE) rules --to $@

artifacts: $(PIPELINE_ALL)  ## run the whole pipeline [PARTS=.. OUT=.. RELEASE=..] (default: the sample)
subsets: $(PIPELINE_SUBSETS)  ## database subsets (NSFW rule, concatenation)
queries: $(PIPELINE_QUERIES)  ## the query set from the query part
meta: $(PIPELINE_META)  ## metadata tables meta-<subset>.tsv
pca: $(PIPELINE_PCA)  ## PCA projections of subsets and queries
hamming: $(PIPELINE_HAMMING)  ## binary BinWalk sketches of subsets and queries
gold: $(PIPELINE_GOLD)  ## gold standards (exact in float64)
recall: $(PIPELINE_RECALL)  ## projection recall table recall-projections.csv
manifests: $(PIPELINE_MANIFESTS)  ## md5, size and URL manifests of the published bundles [BASE_URL=..]

sample-site: $(ENV_STAMP)  ## sample, artifacts, manifests, then the sample release's site in SAMPLE_SITE
	$(MAKE) --no-print-directory sample
	$(MAKE) --no-print-directory artifacts
	rm -rf '$(SAMPLE_SITE)/docs'
	mkdir -p '$(SAMPLE_SITE)'
	cp -R docs '$(SAMPLE_SITE)/docs'
	rm -rf '$(SAMPLE_SITE)/docs/datasets.md' '$(SAMPLE_SITE)/docs/assets/generated' $(PUBLISHED:docs/%='$(SAMPLE_SITE)/docs/%')
	printf 'INHERIT: %s\ndocs_dir: docs\nsite_dir: site\n' '$(abspath mkdocs.yml)' > '$(SAMPLE_SITE)/mkdocs.yml'
	$(PY) -m generator render --release $(PIPELINE_RELEASE) --wording $(WORDING) --data $(OUT) \
		--artifacts $(OUT) --recall $(OUT)/recall-projections.csv --strict $(STRICT) \
		--out '$(SAMPLE_SITE)/docs/datasets.md' --plot '$(SAMPLE_SITE)/docs/assets/generated/recall-projections.svg' \
		$(if $(SITE_URL),--site-url '$(SITE_URL)')
	$(BIN)/mkdocs build --strict -f '$(SAMPLE_SITE)/mkdocs.yml'
	@echo "the sample release's site is in $(SAMPLE_SITE)/site"

clean:  ## remove generated pages, the site and the virtual environment
	rm -rf site docs/datasets.md docs/assets/generated $(PUBLISHED) $(VENV) .pytest_cache .hypothesis

deploy: site  ## publish site/ to the gh-pages branch of the origin remote
	$(BIN)/ghp-import --no-jekyll --push --force site
