"""Where dsgate finds the files it ships beside its code: the one place each location is defined.

dsgate runs from a checkout of its repository (src layout); every other module asks here.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
VERSIONS_FILE = REPO_ROOT / "versions.env"
HELM_BATCH_DIR = REPO_ROOT / "hack" / "helm-batch"
DEFAULT_TOPOLOGY = REPO_ROOT / "cluster" / "topology.yaml"
CLUSTER_STAGES_DIR = REPO_ROOT / "cluster" / "stages"
_POLICIES = REPO_ROOT / "policies"
API_VERSIONS_FILE = REPO_ROOT / "src" / "dsgate" / "gate" / "apiversions.yaml"  # removed/deprecated API versions
# The charts this repository publishes (make package, the version-bump check).
CHARTS = (REPO_ROOT / "charts" / "node-exporter", REPO_ROOT / "charts" / "fluentd")


def policies_dir() -> Path:
    """The policy library: DSGATE_POLICIES when set, else dsgate's own."""
    env = os.environ.get("DSGATE_POLICIES")
    return Path(env) if env else _POLICIES
