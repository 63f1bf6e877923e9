"""Which behaviour experiment shows each policy rule's runtime hazard: the catalogue's Evidence column.

An experiment in tests/cluster/behaviour declares what it proves with a marker,
`@pytest.mark.evidence("DS-ROL-006", "with maxSurge and a host port ... the rollout stalls")`;
this module reads those markers from the test sources (ast, nothing is imported or run) and renders
them: a column of the rule table in policies/README.md and the rules-with-evidence table of the
top-level README. A marker naming a rule the library does not have is an error.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from dsgate.paths import BEHAVIOUR_TESTS_DIR, REPO_ROOT

BEGIN = "<!-- BEGIN GENERATED EVIDENCE (python -m dsgate.docs.catalogue) -->"
END = "<!-- END GENERATED EVIDENCE -->"


@dataclass(frozen=True)
class Evidence:
    rule_id: str
    claim: str
    test: str  # path::function, repo-relative
    path: str  # repo-relative file


def _marker(decorator: ast.expr) -> tuple[str, str] | None:
    """("DS-XXX-000", claim) when DECORATOR is pytest.mark.evidence("DS-XXX-000", "claim")."""
    if (
        not isinstance(decorator, ast.Call)
        or not isinstance(decorator.func, ast.Attribute)
        or decorator.func.attr != "evidence"
    ):
        return None
    args = [a.value for a in decorator.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
    if len(args) != 2:
        raise ValueError(f"line {decorator.lineno}: pytest.mark.evidence takes two strings, the rule id and the claim")
    return args[0], args[1]


def collect(directory: Path = BEHAVIOUR_TESTS_DIR) -> list[Evidence]:
    """Every evidence marker on a test function under DIRECTORY, by rule id then test."""
    found: list[Evidence] = []
    for path in sorted(directory.glob("test_*.py")):
        tree = ast.parse(path.read_text(), str(path))
        rel = path.relative_to(REPO_ROOT).as_posix() if path.is_relative_to(REPO_ROOT) else path.as_posix()
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test"):
                for decorator in node.decorator_list:
                    try:
                        marker = _marker(decorator)
                    except ValueError as exc:
                        raise ValueError(f"{rel}: {exc}") from None
                    if marker:
                        found.append(Evidence(rule_id=marker[0], claim=marker[1], test=f"{rel}::{node.name}", path=rel))
    return sorted(found, key=lambda e: (e.rule_id, e.test))


def by_rule(evidence: list[Evidence]) -> dict[str, list[Evidence]]:
    out: dict[str, list[Evidence]] = {}
    for item in evidence:
        out.setdefault(item.rule_id, []).append(item)
    return out


def cell(items: list[Evidence], link_prefix: str) -> str:
    """The Evidence cell of one rule: each experiment linked, with what it shows."""
    return "; ".join(f"[`{e.test.split('::')[1]}`]({link_prefix}{e.path}): {e.claim}" for e in items) or "-"


def render_table(titles: dict[str, str], evidence: list[Evidence], link_prefix: str = "") -> str:
    """The rules-with-evidence table of the top-level README, markers included."""
    lines = [
        BEGIN,
        "",
        "| Rule | Title | Shown happening by |",
        "|---|---|---|",
    ]
    for rule_id, items in sorted(by_rule(evidence).items()):
        lines.append(f"| {rule_id} | {titles.get(rule_id, '?')} | {cell(items, link_prefix)} |")
    lines += ["", END]
    return "\n".join(lines)
