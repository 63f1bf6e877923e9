# dsgate — `make help` lists every target. Fast targets: help, env, doctor, lint, test-fast.
# Slow targets: setup (cold: builds the toolchain), test, gate, bench, cluster-up.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

# Every pinned version, from the one file the package ships (dsgate/data/versions.env).
VERSIONS_FILE := src/dsgate/data/versions.env
include $(VERSIONS_FILE)
# The Go toolchain for builds, from versions.env (a newer one comes through the Go module proxy).
export GOTOOLCHAIN := $(GO_TOOLCHAIN)
export DSGATE_CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/dsgate

# Python must be free to cache bytecode in .venv: without .pyc files every dsgate/pytest start
# recompiles ~450 modules (seconds each time).
unexport PYTHONDONTWRITEBYTECODE

VENV := .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=
# Two workers: the machine has two cores. --dist loadgroup keeps the cluster tests (xdist_group
# "cluster") on one worker, so a test session starts one control plane, not one per worker. Three
# kept the cores busier (96% against 88%) but ran the three cluster-holding groups at once, and a
# run failed on a 60 s server-side timeout (bench/README.md, 2026-12-07 15:17-18:00).
PYTEST_WORKERS ?= 2

.PHONY: help setup tools venv gate test test-fast fuzz lint lint-python lint-policies lint-docs doctor env cluster-up cluster-down bench docs clean package

help: ## Print every target with a one-line description
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

setup: venv tools ## Create .venv and build/cache the pinned toolchain (idempotent; seconds when cached)

tools: venv ## Build missing pinned tools into $(DSGATE_CACHE): dsgate tools install (TOOLS_FOR=check|cluster|all)
	@$(BIN)/dsgate tools install --for $(or $(TOOLS_FOR),all)

venv: ## Create .venv from pyproject.toml with the pinned uv
	@bash hack/venv.sh

gate: setup ## Run the gate on this repo: dsgate check (render, validate, evaluate, deploy)
	$(BIN)/dsgate check $(GATE_ARGS)

test: setup lint ## Run lint, then the whole test suite (unit, render, policy, cluster) — what CI runs
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

test-fast: setup ## Run the tests without the cluster ones
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadgroup -m "not cluster" $(PYTEST_ARGS)

# `make test` draws a small fixed set of examples (100 valid + 50 broken value sets per chart, 4 per
# fuzzer, the differential test's CI seed); `make fuzz` draws fresh ones with the large budgets.
fuzz: setup ## Property tests, the CLI fuzzer and the scheduler differential with fresh random examples and large budgets (CI draws a fixed small set); FUZZ_ROUNDS=N rounds
	for round in $$(seq $(or $(FUZZ_ROUNDS),1)); do DSGATE_PROPERTY_RANDOM=1 DSGATE_PROPERTY_EXAMPLES=$${DSGATE_PROPERTY_EXAMPLES:-500} DSGATE_PROPERTY_INVALID_EXAMPLES=$${DSGATE_PROPERTY_INVALID_EXAMPLES:-200} DSGATE_FUZZ_EXAMPLES=$${DSGATE_FUZZ_EXAMPLES:-50} $(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadgroup tests/properties tests/hostile/test_fuzz_cli.py tests/cluster/test_audit_scheduler.py $(PYTEST_ARGS); done

# Shell scripts shellcheck reads (.shellcheckrc: sourced files relative to each script).
SHELL_SCRIPTS := hack/*.sh src/dsgate/toolbuild/build.sh src/dsgate/data/helm-batch/*.sh policies/check.sh .ci/run

# The three parts run at once (mypy and the policy checks are the slow ones), each one's output kept
# together; the first that fails fails lint.
lint: setup ## Python (ruff lint + format check, mypy strict on src/dsgate), shellcheck, policies (opa fmt/check/test 100% coverage, regal), generated docs are current, chart versions bumped
	@$(MAKE) --no-print-directory -j3 --output-sync=target lint-python lint-policies lint-docs

lint-python:
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/shellcheck $(SHELL_SCRIPTS)

lint-policies:
	bash policies/check.sh

lint-docs:
	$(BIN)/python -m dsgate.docs.catalogue --check
	$(BIN)/python -m dsgate.docs.chartdocs charts/node-exporter --check
	$(BIN)/python -m dsgate.docs.chartdocs charts/fluentd --check
	$(BIN)/python -m dsgate.docs.chartschema charts/node-exporter --check
	$(BIN)/python -m dsgate.docs.chartschema charts/fluentd --check
	$(BIN)/python -m dsgate.chartrepo check-versions

package: setup ## Package both charts into dist/charts with index.yaml (signed: SIGNING_KEY=name SIGNING_KEYRING=secring.gpg)
	$(BIN)/python -m dsgate.chartrepo package $(if $(CHART_REPO_URL),--url $(CHART_REPO_URL))

docs: setup ## Regenerate the chart values tables, the Kubernetes types in the chart schemas, the policy catalogue
	$(BIN)/python -m dsgate.docs.chartdocs charts/node-exporter
	$(BIN)/python -m dsgate.docs.chartdocs charts/fluentd
	$(BIN)/python -m dsgate.docs.chartschema charts/node-exporter
	$(BIN)/python -m dsgate.docs.chartschema charts/fluentd
	$(BIN)/python -m dsgate.docs.catalogue

doctor: ## Print every pinned tool with pinned version, found version and path; fail if any is missing
	@test -x $(BIN)/dsgate && echo "venv       ok         $(abspath $(VENV))" || { echo "venv       MISSING    run 'make setup'"; exit 1; }
	@$(BIN)/dsgate tools doctor

env: ## Print shell exports: eval "$(make -s env)" puts the pinned tools first on PATH and sets KUBECONFIG
	@echo 'export PATH="$(DSGATE_CACHE)/bin:$(abspath $(BIN)):$$PATH"'
	@echo 'export DSGATE_CACHE="$(DSGATE_CACHE)"'
	@echo "export KUBECONFIG=\"$$($(BIN)/python -m dsgate.cluster.cli kubeconfig)\""

cluster-up: setup ## Start the local control plane with kwok nodes (cluster/topology.yaml)
	$(BIN)/dsgate cluster up

cluster-down: ## Stop the local cluster and remove everything it wrote
	$(BIN)/dsgate cluster down

bench: setup ## Benchmarks (slow): one file and the gate on this repo vs kubeconform + conftest, 400-render matrix vs naive, policy latency, cluster start, scale (DaemonSets per input, 20,000-document tree), audit at 2,000 nodes, admission latency and CEL cost, the rollout model at 100/500/1,000 nodes; then issue 26's table
	$(BIN)/python bench/bench_onefile.py
	$(BIN)/python bench/bench_gate.py
	$(BIN)/python bench/bench_peers.py
	$(BIN)/python bench/bench_policies.py
	$(BIN)/python bench/bench_cluster.py
	$(BIN)/python bench/bench_gitops.py
	$(BIN)/python bench/bench_scale.py
	$(BIN)/python bench/bench_audit.py
	$(BIN)/python bench/bench_admission.py
	$(BIN)/python bench/bench_celcost.py
	$(BIN)/python bench/bench_rollout.py
	$(BIN)/python bench/summary.py

clean: ## Remove .venv and build leftovers in the repo (the tool cache in $(DSGATE_CACHE) stays)
	rm -rf $(VENV) .pytest_cache .hypothesis out dist
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
