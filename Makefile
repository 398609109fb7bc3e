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
# despite problems (and lets verify and download go on past a name listed twice with different
# values, using its first entry); ARTIFACTS, when set, is a folder of produced files whose
# layout, size and md5 are read and checked against the manifests. RECALL unset: DATA's recall table,
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
# Where the heavy stages run (SPEC §5): unset, in the stage's own process; `local`, on a Dask
# LocalCluster started here for the make run, of DASK_WORKERS processes of DASK_THREADS threads
# (unset: Dask shares out the cores); tcp://host:port, on the workers of a running scheduler.
# A stage on Dask waits DASK_WORKER_TIMEOUT seconds for a first worker (unset: 600).
SCHEDULER ?=
DASK_WORKERS ?=
DASK_THREADS ?=
DASK_WORKER_TIMEOUT ?=
PIPELINE = $(PY) -m generator pipeline --release $(call quote,$(PIPELINE_RELEASE)) --parts $(call quote,$(PARTS)) \
	--out $(call quote,$(OUT)) $(if $(SCHEDULER),--scheduler $(call quote,$(SCHEDULER))) $(DASK_SIZE) \
	$(if $(DASK_WORKER_TIMEOUT),--worker-timeout $(call quote,$(DASK_WORKER_TIMEOUT)))
DASK_SIZE = $(if $(DASK_WORKERS),--workers $(call quote,$(DASK_WORKERS))) \
	$(if $(DASK_THREADS),--threads $(call quote,$(DASK_THREADS)))
# The 'dask' extra of pyproject.toml: installed when a target needs it (SCHEDULER set, tests, benchmarks).
DASK_STAMP := $(VENV)/.installed-dask
# The make targets of the pipeline's stage table (a test checks the two agree).
PIPELINE_TARGETS := artifacts subsets queries meta pca hamming gold recall manifests
# The rules of the release's files (one per output, prerequisites the files it reads),
# written by the pipeline from its stage table; one rules file per release so that
# switching releases is safe. They name files through RULE_PARTS and RULE_OUT (below): PARTS
# and OUT as make's rules can hold them (RULE_RELEASE checks the release's path the same way).
PIPELINE_RULES = $(OUT)/.rules/$(subst $(space),_,$(subst /,_,$(PIPELINE_RELEASE))).mk

# --- Values of variables -------------------------------------------------------------------
# Paths may hold spaces and quotes (make verify DIR="it's here"): a value reaches the shell
# through `quote` (single-quoted, each ' written '\''), and make's own rules see a path through
# `escape` (each space written '\ ', which make reads as part of the name). Make expands a '$'
# in a value itself, so a dollar sign is written as two; ':' and ';' cannot be part of a file
# name in a rule, and are refused in the pipeline's PARTS, OUT and RELEASE.
space := $(subst ,, )
quote = '$(subst ','\'',$(1))'
escape = $(subst $(space),\$(space),$(1))
# A yes/no variable takes 1 or 0, or yes/no or true/false in any case; any other value (an
# empty one, two words) stops make with a message naming the variable, so that STRICT=false
# or REQUIRE_ALL=yes never quietly means something else. `lower` knows the letters of those words.
lower = $(subst A,a,$(subst E,e,$(subst F,f,$(subst L,l,$(subst N,n,$(subst O,o,$(subst R,r,$(subst S,s,$(subst T,t,$(subst U,u,$(subst Y,y,$(1))))))))))))
flag = $(strip $(if $(filter-out 1,$(words $($(1)))),$(call bad_flag,$(1)),\
	$(if $(filter 1 yes true,$(call lower,$($(1)))),1,\
	$(if $(filter 0 no false,$(call lower,$($(1)))),0,$(call bad_flag,$(1))))))
bad_flag = $(error $(1)=$($(1)) is not a yes/no value: use 1 or 0 (also yes/no or true/false, in any case))
rule_path = $(if $(findstring :,$(2))$(findstring ;,$(2)),$(error $(1)=$(2): make cannot hold a path with ':' or ';' in its rules),$(call escape,$(2)))

.DEFAULT_GOAL := help
.PHONY: help env site render serve test bench bench-scale dask-local-cluster clean deploy linkcheck sample sample-site verify download $(PIPELINE_TARGETS)

help:  ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z-]+):.*## /  make \1\t/' | expand -t 24

env: $(ENV_STAMP)  ## create the virtual environment in .venv

$(ENV_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test,bench]'
	touch $@

$(DASK_STAMP): $(ENV_STAMP)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dask]'
	touch $@

render: $(ENV_STAMP)  ## generate docs/datasets.md, its index and manifests from the release, wording and manifests
	$(PY) -m generator render --release $(call quote,$(SITE_RELEASE)) --wording $(call quote,$(WORDING)) \
		--data $(call quote,$(DATA)) --strict $(call flag,STRICT) $(if $(RECALL),--recall $(call quote,$(RECALL))) \
		$(if $(ARTIFACTS),--artifacts $(call quote,$(ARTIFACTS))) $(if $(SITE_URL),--site-url $(call quote,$(SITE_URL)))

# Not --quiet: with it, mkdocs counts no warning and --strict fails on none.
site: render  ## build the static site into site/ (mkdocs build --strict)
	$(BIN)/mkdocs build --strict

linkcheck: $(ENV_STAMP)  ## HEAD every download link of the page and compare its size with the manifests (online)
	$(PY) -m generator linkcheck --release $(call quote,$(SITE_RELEASE)) --data $(call quote,$(DATA))

serve: render  ## live preview of the site on http://127.0.0.1:8000
	$(BIN)/mkdocs serve

verify: $(ENV_STAMP)  ## check the files in DIR against MANIFEST (size, then md5; OK / FAILED per file)
	$(PY) -m generator verify $(call quote,$(DIR)) --manifest $(call quote,$(MANIFEST)) \
		$(if $(filter 1,$(call flag,REQUIRE_ALL)),--require-all) $(if $(filter 1,$(call flag,NO_CACHE)),--no-cache) \
		$(if $(filter 0,$(call flag,STRICT)),--lenient)

download: $(ENV_STAMP)  ## resumable, verified download of FILES="..." or GROUP=... or SUBSET=... into DIR
	$(PY) -m generator download $(foreach name,$(FILES),$(call quote,$(name))) --dir $(call quote,$(DIR)) \
		--data $(call quote,$(DATA)) --release $(call quote,$(SITE_RELEASE)) $(if $(GROUP),--group $(call quote,$(GROUP))) \
		$(if $(SUBSET),--subset $(call quote,$(SUBSET))) $(if $(MIRROR),--mirror $(call quote,$(MIRROR))) \
		$(if $(filter 0,$(call flag,STRICT)),--lenient)

test: $(ENV_STAMP) $(DASK_STAMP)  ## the whole test suite (what CI runs)
	$(PY) -m pytest

bench: $(ENV_STAMP) $(DASK_STAMP)  ## benchmarks (ratios against reference tools measured in the same run)
	@set -e; for script in bench/bench_*.py; do $(PY) $$script; done

# The scale rehearsal: SCALE_PARTS parts of SCALE_ROWS rows each (plus the query part) and
# SCALE_QUERIES queries, in SCALE_DIR; the LocalCluster of DASK_WORKERS x DASK_THREADS.
SCALE_PARTS ?= 3
SCALE_ROWS ?= 1000000
SCALE_QUERIES ?= 10000
SCALE_DIR ?= build/bench-scale

bench-scale: $(ENV_STAMP) $(DASK_STAMP)  ## scale rehearsal: the pipeline on large synthetic parts, plain and on Dask, per stage (not in the tests)
	$(PY) bench/scale.py --parts $(call quote,$(SCALE_PARTS)) --rows $(call quote,$(SCALE_ROWS)) \
		--queries $(call quote,$(SCALE_QUERIES)) --dir $(call quote,$(SCALE_DIR)) $(DASK_SIZE)

sample: $(ENV_STAMP)  ## write synthetic LAION parts into SAMPLE (default build/sample/parts)
	$(PY) -m generator pipeline --release $(call quote,$(PIPELINE_RELEASE)) --parts $(call quote,$(SAMPLE)) sample

ifeq ($(SCHEDULER),local)
# One LocalCluster serves every stage of the run: make runs again inside it, with SCHEDULER set
# to the cluster's address (the variable DASK_SCHEDULER_ADDRESS the cluster command sets).
$(PIPELINE_TARGETS): dask-local-cluster

dask-local-cluster: $(DASK_STAMP)
	$(PY) -m generator pipeline $(DASK_SIZE) local-cluster -- $(MAKE) --no-print-directory \
		$(filter $(PIPELINE_TARGETS),$(MAKECMDGOALS)) 'SCHEDULER=$$(DASK_SCHEDULER_ADDRESS)' DASK_WORKERS= DASK_THREADS=
else ifneq ($(filter $(PIPELINE_TARGETS),$(MAKECMDGOALS)),)
RULE_PARTS := $(call rule_path,PARTS,$(PARTS))
RULE_OUT := $(call rule_path,OUT,$(OUT))
RULE_RELEASE := $(call rule_path,RELEASE,$(PIPELINE_RELEASE))
include $(call escape,$(PIPELINE_RULES))

# Written on every run (make -n included), each file only when its text changes: the rules and
# the stages' stamp files in OUT/.stamps, which hold the part of the release each stage reads,
# its code version and its numerics (docs/design/pipeline.md#rebuild-dependencies).
$(call escape,$(PIPELINE_RULES)): pipeline-rules | $(ENV_STAMP) $(if $(SCHEDULER),$(DASK_STAMP))
	@$(PIPELINE) rules --to $(call quote,$@)

.PHONY: pipeline-rules
pipeline-rules:
endif

artifacts: $(PIPELINE_ALL)  ## run the whole pipeline [PARTS=.. OUT=.. RELEASE=.. SCHEDULER=local|tcp://..] (default: the sample)
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
	rm -rf $(call quote,$(SAMPLE_SITE)/docs)
	mkdir -p $(call quote,$(SAMPLE_SITE))
	cp -R docs $(call quote,$(SAMPLE_SITE)/docs)
	rm -rf $(call quote,$(SAMPLE_SITE)/docs/datasets.md) $(call quote,$(SAMPLE_SITE)/docs/assets/generated) \
		$(foreach file,$(PUBLISHED:docs/%=%),$(call quote,$(SAMPLE_SITE)/docs/$(file)))
	printf 'INHERIT: %s\ndocs_dir: docs\nsite_dir: site\n' $(call quote,$(CURDIR)/mkdocs.yml) \
		> $(call quote,$(SAMPLE_SITE)/mkdocs.yml)
	$(PY) -m generator render --release $(call quote,$(PIPELINE_RELEASE)) --wording $(call quote,$(WORDING)) \
		--data $(call quote,$(OUT)) --artifacts $(call quote,$(OUT)) --recall $(call quote,$(OUT)/recall-projections.csv) \
		--strict $(call flag,STRICT) --out $(call quote,$(SAMPLE_SITE)/docs/datasets.md) \
		--plot $(call quote,$(SAMPLE_SITE)/docs/assets/generated/recall-projections.svg) \
		$(if $(SITE_URL),--site-url $(call quote,$(SITE_URL)))
	$(BIN)/mkdocs build --strict -f $(call quote,$(SAMPLE_SITE)/mkdocs.yml)
	@echo $(call quote,the sample release's site is in $(SAMPLE_SITE)/site)

clean:  ## remove generated pages, the site and the virtual environment
	rm -rf site docs/datasets.md docs/assets/generated $(PUBLISHED) $(VENV) .pytest_cache .hypothesis

deploy: site  ## publish site/ to the gh-pages branch of the origin remote
	$(BIN)/ghp-import --no-jekyll --push --force site
