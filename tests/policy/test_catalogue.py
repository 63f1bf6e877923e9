"""The rule catalogue in policies/README.md is generated from the METADATA and is current."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dsgate.docs.catalogue import BEGIN, END, CatalogueError, categories, main, read_library
from dsgate.paths import rules_dir
from tests.support import POLICIES, REPO, opa_findings

pytestmark = pytest.mark.policy


@pytest.fixture
def library_copy(tmp_path: Path) -> Path:
    """A copy of the library's modules and README to break on purpose."""
    target = tmp_path / "policies"
    shutil.copytree(POLICIES, target, ignore=shutil.ignore_patterns("samples", "*_test.rego"))
    return target


def test_catalogue_is_current() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "dsgate.docs.catalogue", "--check"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr


def test_every_rule_is_in_the_catalogue_once() -> None:
    rules, parameters = read_library(POLICIES)
    section = (POLICIES / "README.md").read_text().split(BEGIN)[1].split(END)[0]
    assert sorted(
        line.split(" | ")[0].lstrip("| ") for line in section.splitlines() if line.startswith("| DS-")
    ) == sorted(r.id for r in rules)
    assert {r.category for r in rules} == set(categories(POLICIES))
    assert {p.name for p in parameters} == {n for r in rules for n in r.parameters}, "a parameter no rule uses"


def test_stale_catalogue_detected(library_copy: Path) -> None:
    readme = library_copy / "README.md"
    readme.write_text(readme.read_text().replace("| DS-TOL-001 |", "| DS-TOL-009 |"))
    assert main(["--check", "--policies", str(library_copy)]) == 1
    assert main(["--policies", str(library_copy)]) == 0
    assert main(["--check", "--policies", str(library_copy)]) == 0


def test_changed_metadata_makes_catalogue_stale(library_copy: Path) -> None:
    module = rules_dir(library_copy) / "priority" / "priority.rego"
    module.write_text(
        module.read_text().replace("priorityClassName is system-node-critical", "priority class is node-critical")
    )
    assert main(["--check", "--policies", str(library_copy)]) == 1


@pytest.mark.parametrize(
    ("old", "new", "expected_error"),
    [
        # an unknown category
        ("#   category: priority", "#   category: scheduling", "has category 'scheduling'"),
        # a severity other than deny/warn
        ("#   severity: deny", "#   severity: error", "has severity 'error'"),
        # a profile other than minimal/baseline/strict
        ("#   profile: minimal", "#   profile: paranoid", "has profile 'paranoid'"),
        # a parameter that parameter_docs does not define
        (
            "#   parameters: [allowed_priority_classes]",
            "#   parameters: [priority_classes]",
            "names parameter 'priority_classes'",
        ),
        # a malformed id
        ("#   id: DS-PRI-001", "#   id: PRI-1", "is not of the form"),
        # an id used twice
        ("#   id: DS-PRI-001", "#   id: DS-TOL-001", "is also used at"),
        # no admission classification
        ("#   admission: vap\n", "", "has admission 'missing'"),
        # a classification other than vap/ci-only
        ("#   admission: vap\n", "#   admission: webhook\n", "has admission 'webhook'"),
        # ci-only without its reason
        ("#   admission: vap\n", "#   admission: ci-only\n", "ci-only without custom.admission_reason"),
    ],
)
def test_invalid_metadata_rejected(library_copy: Path, old: str, new: str, expected_error: str) -> None:
    module = rules_dir(library_copy) / "priority" / "priority.rego"
    assert old in module.read_text()
    module.write_text(module.read_text().replace(old, new))
    with pytest.raises(CatalogueError, match=expected_error):
        read_library(library_copy)


def test_readme_without_markers_rejected(library_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (library_copy / "README.md").write_text("# no markers\n")
    assert main(["--check", "--policies", str(library_copy)]) == 2
    assert "markers" in capsys.readouterr().err


NEW_CATEGORY = """# METADATA
# title: Node labels
# description: A category that only exists in this test.
package dsgate.rules.node_labels

import data.dsgate.lib

# METADATA
# title: Every DaemonSet is reported
# scope: rule
# custom:
#   id: DS-NLB-001
#   category: node-labels
#   severity: warn
#   parameters: []
#   remediation: Nothing to do.
#   admission: ci-only
#   admission_reason: It only exists in this test.
findings contains lib.finding(rego.metadata.rule(), ds, "reported") if {
	some ds in lib.daemonsets
}
"""
DAEMONSET = {
    "apiVersion": "apps/v1",
    "kind": "DaemonSet",
    "metadata": {"name": "agent", "namespace": "monitoring"},
    "spec": {},
}


def test_new_category_is_one_folder(library_copy: Path, tmp_path: Path) -> None:
    """A package in a new folder of dsgate/rules is a category of the catalogue and main collects its findings."""
    folder = rules_dir(library_copy) / "node_labels"
    folder.mkdir()
    (folder / "node_labels.rego").write_text(NEW_CATEGORY)
    assert "node-labels" in categories(library_copy)
    rules, _ = read_library(library_copy)
    assert [(r.id, r.category) for r in rules if r.id == "DS-NLB-001"] == [("DS-NLB-001", "node-labels")]
    findings = opa_findings([{"path": "render.yaml", "contents": DAEMONSET}], tmp_path, policies=library_copy)
    assert [(f["rule"], f["category"], f["resource"]) for f in findings if f["rule"] == "DS-NLB-001"] == [
        ("DS-NLB-001", "node-labels", "DaemonSet/monitoring/agent")
    ]


def test_rule_outside_its_category_folder_rejected(library_copy: Path) -> None:
    module = rules_dir(library_copy) / "priority" / "priority.rego"
    # the rules of priority.rego in the images package (without its own package METADATA: one per package)
    rules = module.read_text().split("package dsgate.rules.priority", 1)[1]
    (rules_dir(library_copy) / "images" / "priority.rego").write_text("package dsgate.rules.images" + rules)
    module.unlink()
    with pytest.raises(CatalogueError, match="has category 'priority', not 'images'"):
        read_library(library_copy)


def test_profile_and_rationale_shown(library_copy: Path) -> None:
    """custom.profile and custom.rationale (with related_resources as its sources) reach the catalogue row."""
    module = rules_dir(library_copy) / "priority" / "priority.rego"
    text = module.read_text()
    assert "#   profile: minimal\n" in text and "#   rationale: >-\n" in text
    module.write_text(
        text.replace("#   profile: minimal\n", "#   profile: strict\n").replace(
            "#   rationale: >-\n", "#   rationale: >-\n#     The agent stays Pending on a full node.\n"
        )
    )
    rules, _ = read_library(library_copy)
    (rule,) = [r for r in rules if r.id == "DS-PRI-001"]
    assert rule.profile == "strict"
    assert rule.rationale.startswith("The agent stays Pending on a full node. ")
    assert main(["--policies", str(library_copy)]) == 0
    row = next(
        line for line in (library_copy / "README.md").read_text().splitlines() if line.startswith("| DS-PRI-001 |")
    )
    assert "| deny | strict | vap |" in row
    assert "| The agent stays Pending on a full node. " in row
    assert "Sources: [Pod Priority and Preemption" in row
