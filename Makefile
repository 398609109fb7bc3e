# The interface of the project (docs/design/index.md#the-make-interface). Every target creates
# the virtual environment it needs on first use; Python 3 and make are all a machine needs.

# The Python that creates the virtual environment (3.11 or later).
PYTHON ?= python3
# The theme prints an end-of-life notice on every build; it says nothing about this site.
export NO_MKDOCS_2_WARNING := 1
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
ENV_STAMP := $(VENV)/.installed

# The editions (docs/design/releases.md#editions-and-reuse): one release file each in RELEASES.
# EDITION names one (the file RELEASES/EDITION.yml; RELEASE may name a file anywhere instead).
# Unset, the downloads use the newest edition of the challenge and the pipeline the first sample
# edition; `make site` publishes every edition of the challenge.
RELEASES ?= data/releases
EDITION ?=
RELEASE ?=
NEWEST_EDITION = $(lastword $(sort $(filter-out sample-%,$(basename $(notdir $(wildcard $(RELEASES)/*.yml))))))
SITE_RELEASE = $(or $(RELEASE),$(RELEASES)/$(or $(EDITION),$(NEWEST_EDITION)).yml)
PIPELINE_RELEASE = $(or $(RELEASE),$(RELEASES)/$(or $(EDITION),sample-2023).yml)
# An edition's id is its release file's name without .yml (asked of the shell: the path may hold spaces).
edition_of = $(shell basename -- $(call quote,$(1)) .yml)
SITE_EDITION = $(call edition_of,$(SITE_RELEASE))
PIPELINE_EDITION = $(call edition_of,$(PIPELINE_RELEASE))

# Site inputs: DATA holds a folder per edition with its three manifests (and recall table);
# WORDING the page's texts; STRICT=0 renders despite problems (and lets verify and download go on
# past a name listed twice with different values, using its first entry); ARTIFACTS, when set, is a folder
# per edition of produced files whose layout, size and md5 are read and checked against the
# manifests.
DATA ?= $(RELEASES)
WORDING ?= data/page.yml
STRICT ?= 1
ARTIFACTS ?=
# Where the site is published (the page's download commands read SITE_URL/EDITION/datasets.json):
# unset, the canonical address, mkdocs.yml's site_url (read from there, its one place);
# `make serve` and `make sample-site` use LOCAL_SITE_URL, where they serve the site, whatever
# SITE_URL says. REPO_URL is where the project's repository is (unset: no link to it).
CANONICAL_SITE_URL := $(shell sed -nE 's/^site_url: !ENV \[SITE_URL, *"([^"]*)"\]$$/\1/p' mkdocs.yml)
LOCAL_SITE_URL := http://127.0.0.1:8000/
SITE_URL ?= $(CANONICAL_SITE_URL)
REPO_URL ?=
export SITE_URL REPO_URL
# What `make site` writes into docs/: the newest edition's page, a page per edition, and each
# edition's files (index and manifests) in a folder named after it.
GENERATED_DOCS = docs/datasets.md docs/editions.md $(foreach edition,$(basename $(notdir $(wildcard $(RELEASES)/*.yml))),docs/$(edition))

# Participants' tools: DIR is the folder of downloaded files; MANIFEST the md5
# manifest verify checks against (size manifests next to it are used too);
# REQUIRE_ALL=1 fails on files of the manifest missing from DIR; NO_CACHE=1 hashes
# every file again. download takes FILES (names), GROUP or SUBSET (of the release);
# MIRROR replaces everything before the file name in each URL.
DIR ?= downloads
MANIFEST ?= $(DATA)/$(SITE_EDITION)/dataset-files-md5.txt
REQUIRE_ALL ?= 0
NO_CACHE ?= 0
# linkcheck: RECORD=1 writes the sizes the servers state into DATA/EDITION/dataset-files-bytes.txt.
RECORD ?= 0
FILES ?=
GROUP ?=
SUBSET ?=
MIRROR ?=

# Pipeline inputs (docs/design/data.md#parts): SAMPLE is where `make sample` writes synthetic
# parts; PARTS the folder of LAION parts the pipeline reads; OUT where artifacts go; BASE_URL the
# URL folder written into the URL manifest (unset: the release's base_url).
SAMPLE ?= build/sample/parts
PARTS ?= $(SAMPLE)
# OUT holds a folder per edition; an edition reads the files it reuses from its earlier edition's.
ARTIFACTS_ROOT ?= build/artifacts
OUT ?= $(ARTIFACTS_ROOT)/$(PIPELINE_EDITION)
BASE_URL ?=
SAMPLE_SITE ?= build/sample-site
# Where the heavy stages run (docs/design/pipeline.md#scheduling-on-dask): unset, in the
# stage's own process; `local`, on a Dask LocalCluster started here for the make run, of
# DASK_WORKERS processes of DASK_THREADS threads (unset: Dask shares out the cores);
# tcp://host:port, on the workers of a running scheduler.
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
# The host of a URL (scheme, user and port dropped; an IPv6 address keeps its brackets), and
# whether it is loopback or missing: `make deploy` publishes only an address others can reach.
url_host = $(call bare_host,$(lastword $(subst @, ,$(firstword $(subst /, ,$(word 2,$(subst ://, ,$(1))))))))
bare_host = $(if $(filter [%,$(1)),$(firstword $(subst ], ,$(1)))],$(firstword $(subst :, ,$(1))))
unpublishable = $(or $(if $(call url_host,$(1)),,no host),$(if $(filter 127.% localhost %.localhost [::1] 0.0.0.0,\
	$(call url_host,$(1))),a loopback host),$(if $(filter http://% https://%,$(1)),,no http(s) scheme))
rule_path = $(if $(findstring :,$(2))$(findstring ;,$(2)),$(error $(1)=$(2): make cannot hold a path with ':' or ';' in its rules),$(call escape,$(2)))

.DEFAULT_GOAL := help
.PHONY: help env site render serve test test-fast reference bench bench-scale dask-local-cluster clean deploy linkcheck sample sample-site verify download $(PIPELINE_TARGETS)

help:  ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z-]+):.*## /  make \1\t/' | expand -t 24

env: $(ENV_STAMP)  ## create the virtual environment in .venv

# Ranges in pyproject.toml, exact versions from constraints.txt: what CI tests is what make installs.
CONSTRAINTS := constraints.txt
PIP_INSTALL = $(BIN)/pip install --quiet --disable-pip-version-check --constraint $(CONSTRAINTS)

$(ENV_STAMP): pyproject.toml $(CONSTRAINTS)
	$(PYTHON) -m venv $(VENV)
	$(PIP_INSTALL) -e '.[pipeline,site,test,bench]'
	touch $@

$(DASK_STAMP): $(ENV_STAMP)
	$(PIP_INSTALL) -e '.[dask]'
	touch $@

render: $(ENV_STAMP)  ## generate the datasets page of every edition, with its index and manifests, from the releases, wording and manifests
	$(PY) -m generator render --releases $(call quote,$(RELEASES)) --wording $(call quote,$(WORDING)) \
		--data $(call quote,$(DATA)) --strict $(call flag,STRICT) \
		$(if $(ARTIFACTS),--artifacts $(call quote,$(ARTIFACTS))) --site-url $(call quote,$(SITE_URL))

# Not --quiet: with it, mkdocs counts no warning and --strict fails on none.
site: render  ## build the static site into site/ (mkdocs build --strict)
	$(BIN)/mkdocs build --strict

linkcheck: $(ENV_STAMP)  ## HEAD every download link of EDITION's page and compare its size with the manifests (online) [RECORD=1]
	$(PY) -m generator linkcheck --release $(call quote,$(SITE_RELEASE)) --data $(call quote,$(DATA)/$(SITE_EDITION)) \
		$(if $(filter 1,$(call flag,RECORD)),--record)

serve: override SITE_URL = $(LOCAL_SITE_URL)
serve: render  ## live preview of the site, served on this machine at port 8000 (its commands read that address)
	$(BIN)/mkdocs serve --dev-addr 127.0.0.1:8000

verify: $(ENV_STAMP)  ## check the files in DIR against MANIFEST (size, then md5; OK / FAILED per file)
	$(PY) -m generator verify $(call quote,$(DIR)) --manifest $(call quote,$(MANIFEST)) \
		$(if $(filter 1,$(call flag,REQUIRE_ALL)),--require-all) $(if $(filter 1,$(call flag,NO_CACHE)),--no-cache) \
		$(if $(filter 0,$(call flag,STRICT)),--lenient)

download: $(ENV_STAMP)  ## resumable, verified download of FILES="..." or GROUP=... or SUBSET=... of EDITION into DIR
	$(PY) -m generator download $(foreach name,$(FILES),$(call quote,$(name))) --dir $(call quote,$(DIR)) \
		--data $(call quote,$(DATA)/$(SITE_EDITION)) --release $(call quote,$(SITE_RELEASE)) $(if $(GROUP),--group $(call quote,$(GROUP))) \
		$(if $(SUBSET),--subset $(call quote,$(SUBSET))) $(if $(MIRROR),--mirror $(call quote,$(MIRROR))) \
		$(if $(filter 0,$(call flag,STRICT)),--lenient)

test: $(ENV_STAMP) $(DASK_STAMP)  ## the whole test suite (what CI runs)
	$(PY) -m pytest

test-fast: $(ENV_STAMP) $(DASK_STAMP)  ## the tests but the slow ones (browser, whole pipeline, Dask cluster, make)
	$(PY) -m pytest -m 'not slow'

bench: $(ENV_STAMP) $(DASK_STAMP)  ## benchmarks (ratios against reference tools measured in the same run)
	@set -e; for script in bench/bench_*.py; do $(PY) $$script; done

# The scale rehearsal: SCALE_PARTS parts of SCALE_ROWS rows each (plus the query part) and
# SCALE_QUERIES queries, in SCALE_DIR; the LocalCluster of DASK_WORKERS x DASK_THREADS.
SCALE_PARTS ?= 3
SCALE_ROWS ?= 1000000
SCALE_QUERIES ?= 10000
SCALE_DIR ?= build/bench-scale
# The report against the machine's limits (table, plot, machine) goes to SCALE_RESULTS;
# SCALE_DASK=0 skips the second run on a LocalCluster.
SCALE_RESULTS ?= bench/results
SCALE_DASK ?= 1

bench-scale: $(ENV_STAMP) $(DASK_STAMP)  ## scale rehearsal: the pipeline on large synthetic parts per stage, against the machine's limits, plain and on Dask (not in the tests)
	$(PY) bench/scale.py --parts $(call quote,$(SCALE_PARTS)) --rows $(call quote,$(SCALE_ROWS)) \
		--queries $(call quote,$(SCALE_QUERIES)) --dir $(call quote,$(SCALE_DIR)) $(DASK_SIZE) \
		--results $(call quote,$(SCALE_RESULTS)) $(if $(filter 0,$(call flag,SCALE_DASK)),--no-dask)

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

# The sample editions, in the order they build (an edition after those it reuses).
SAMPLE_EDITIONS = $(sort $(basename $(notdir $(wildcard $(RELEASES)/sample-*.yml))))

# The sample site is for this machine: its commands read SAMPLE_SITE_URL (unset: where `make serve` serves).
sample-site: override SITE_URL = $(or $(SAMPLE_SITE_URL),$(LOCAL_SITE_URL))
sample-site: $(ENV_STAMP)  ## sample parts, every sample edition's artifacts and manifests, then their site in SAMPLE_SITE
	$(MAKE) --no-print-directory sample EDITION=$(firstword $(SAMPLE_EDITIONS))
	set -e; for edition in $(SAMPLE_EDITIONS); do \
		$(PY) -m generator pipeline --release $(call quote,$(RELEASES))/$$edition.yml \
			--out $(call quote,$(ARTIFACTS_ROOT))/$$edition sample-externals; \
		$(MAKE) --no-print-directory artifacts EDITION=$$edition; \
	done
	rm -rf $(call quote,$(SAMPLE_SITE)/docs)
	mkdir -p $(call quote,$(SAMPLE_SITE))
	cp -R docs $(call quote,$(SAMPLE_SITE)/docs)
	rm -rf $(call quote,$(SAMPLE_SITE)/docs/datasets.md) $(call quote,$(SAMPLE_SITE)/docs/editions.md)
	for folder in $(call quote,$(SAMPLE_SITE)/docs)/*/; do [ ! -f "$$folder.gitignore" ] || rm -rf "$$folder"; done
	printf 'INHERIT: %s\ndocs_dir: docs\nsite_dir: site\nextra:\n  synthetic: true\n' $(call quote,$(CURDIR)/mkdocs.yml) \
		> $(call quote,$(SAMPLE_SITE)/mkdocs.yml)
	$(PY) -m generator render --releases $(call quote,$(RELEASES)) --editions $(SAMPLE_EDITIONS) \
		--wording $(call quote,$(WORDING)) --data $(call quote,$(ARTIFACTS_ROOT)) --artifacts $(call quote,$(ARTIFACTS_ROOT)) \
		--strict $(call flag,STRICT) --docs $(call quote,$(SAMPLE_SITE)/docs) \
		--site-url $(call quote,$(SITE_URL))
	$(BIN)/mkdocs build --strict -f $(call quote,$(SAMPLE_SITE)/mkdocs.yml)
	@echo $(call quote,the sample editions' site is in $(SAMPLE_SITE)/site)

reference: $(ENV_STAMP)  ## write docs/maintainers/make-variables.md from this Makefile's help texts and comments
	$(PY) -m generator make-reference --makefile Makefile --out docs/maintainers/make-variables.md

clean:  ## remove generated pages, the site and the virtual environment
	rm -rf site $(GENERATED_DOCS) $(VENV) .pytest_cache .hypothesis .mypy_cache .ruff_cache

# Refused before anything runs: a site whose commands would send every participant to a
# loopback address, or to none.
ifneq ($(filter deploy,$(MAKECMDGOALS)),)
ifneq ($(call unpublishable,$(SITE_URL)),)
$(error SITE_URL=$(SITE_URL) has $(call unpublishable,$(SITE_URL)): make deploy publishes the page's download \
	commands for everyone; set SITE_URL to the address the site is published at (unset: mkdocs.yml's site_url))
endif
endif

deploy: site  ## publish site/ (built for SITE_URL, never a loopback one) to the gh-pages branch of the origin remote
	$(BIN)/ghp-import --no-jekyll --push --force site
