"""Where dsgate finds the files it ships beside its code: the one place each location is defined.

Everything dsgate reads besides its Python code is package data under dsgate/data, so an installed
wheel and a checkout of the repository (src layout, editable install) look in the same place:
versions.env (every pinned version), helm-batch's Go sources and patch, the policy library and the
local cluster's topology and kwok stages. In the repository, data/policies and data/cluster are
symlinks to the top-level policies/ and cluster/ (the wheel and sdist carry the files themselves).
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
DATA_DIR = PACKAGE_DIR / "data"
VERSIONS_FILE = DATA_DIR / "versions.env"
HELM_BATCH_DIR = DATA_DIR / "helm-batch"
CELCOST_DIR = DATA_DIR / "celcost"  # the CEL cost report of the admission policies (issue 25)
# The per-tool Go build recipes `dsgate tools install` runs.
TOOL_BUILD_SCRIPT = PACKAGE_DIR / "toolbuild" / "build.sh"
DEFAULT_TOPOLOGY = DATA_DIR / "cluster" / "topology.yaml"
CLUSTER_STAGES_DIR = DATA_DIR / "cluster" / "stages"
API_VERSIONS_FILE = PACKAGE_DIR / "gate" / "apiversions.yaml"  # removed/deprecated API versions
# The checkout's root: meaningful in a clone of the repository only (an installed wheel has none).
REPO_ROOT = PACKAGE_DIR.parents[1]
# The charts this repository publishes (make package, the version-bump check): repository tools.
CHARTS = (REPO_ROOT / "charts" / "node-exporter", REPO_ROOT / "charts" / "fluentd")
# The behaviour experiments (their evidence(...) markers feed the catalogue's Evidence column) and the
# README with the rules-with-evidence table: repository files.
BEHAVIOUR_TESTS_DIR = REPO_ROOT / "tests" / "cluster" / "behaviour"
README = REPO_ROOT / "README.md"
POLICIES_DIR = (DATA_DIR / "policies").resolve()  # the checkout's policies/ rather than the symlink, in messages
# The models' calibrated figures: data of the policy library (data.dsgate.model), read by simulate too.
MODEL_FILE = POLICIES_DIR / "model.json"


def policies_dir() -> Path:
    """The policy library: DSGATE_POLICIES when set, else dsgate's own."""
    env = os.environ.get("DSGATE_POLICIES")
    return Path(env) if env else POLICIES_DIR


def cache_dir() -> Path:
    """Root of dsgate's cache, outside any repository: DSGATE_CACHE, else $XDG_CACHE_HOME/dsgate."""
    if env := os.environ.get("DSGATE_CACHE"):
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "dsgate"


def rules_dir(policies: Path | None = None) -> Path:
    """The rule packages of a policy library: one folder per category, package dsgate.rules.<folder>."""
    return (policies or policies_dir()) / "dsgate" / "rules"
