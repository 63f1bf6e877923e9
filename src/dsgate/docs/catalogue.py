"""The rule catalogue of the policy library, generated from the policies' METADATA.

    python -m dsgate.docs.catalogue            rewrite the generated section of policies/README.md
    python -m dsgate.docs.catalogue --check    exit 1 when that section is stale (CI)

Every rule's id, title, category, severity, parameters and remediation are read with
`opa inspect -a` from its `# METADATA` block; parameter defaults and descriptions are read with
`opa eval` from `data.dsgate.lib.parameter_docs`. Nothing in the catalogue is written by hand.
The metadata is validated on the way (unique ids, severities, parameters that exist, and the
category of a rule is the one of its folder: the category list is the folders of
policies/dsgate/rules, see `categories`); a violation is an error (exit 2), not a silently odd table.
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dsgate.docs import evidence as evidence_mod
from dsgate.errors import DsgateError
from dsgate.gate.ruleset import DEFAULT_PROFILE, PROFILES  # custom.profile: the smallest profile that includes the rule
from dsgate.paths import README, policies_dir, rules_dir
from dsgate.tools import ToolMissing, tool_path

SEVERITIES = ("deny", "warn")
ID_PATTERN = re.compile(r"^DS-[A-Z]{3}-[0-9]{3}$")
# custom.admission: vap (a ValidatingAdmissionPolicy enforces it, dsgate admission render) or ci-only
# (custom.admission_reason says why: another object, a clock, the raw manifest, data admission lacks)
ADMISSION = ("vap", "ci-only")
BEGIN = "<!-- BEGIN GENERATED CATALOGUE (python -m dsgate.docs.catalogue) -->"
END = "<!-- END GENERATED CATALOGUE -->"


def category_of(folder: str) -> str:
    """The category of the rules in policies/dsgate/rules/FOLDER: the folder (a package name) with
    hyphens for underscores (host_access holds category host-access)."""
    return folder.replace("_", "-")


def categories(policy_dir: Path) -> tuple[str, ...]:
    """The categories of the library in POLICY_DIR, sorted: one per folder of its dsgate/rules."""
    return tuple(sorted(category_of(p.name) for p in rules_dir(policy_dir).iterdir() if p.is_dir()))


class CatalogueError(DsgateError):
    """The policies' metadata or the README cannot produce a catalogue; the message says why."""


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    category: str
    severity: str
    parameters: tuple[str, ...]
    remediation: str
    references: tuple[tuple[str, str], ...]  # (description, url)
    location: str
    profile: str = DEFAULT_PROFILE
    rationale: str = ""  # custom.rationale: what goes wrong in production if the rule is ignored
    admission: str = ""  # custom.admission: vap (enforced by a ValidatingAdmissionPolicy) or ci-only
    admission_reason: str = ""  # custom.admission_reason: why a ci-only rule cannot be enforced at admission


@dataclass(frozen=True)
class Parameter:
    name: str
    default: Any
    description: str


def _library_copy(policy_dir: Path, target: Path) -> None:
    """Copy the library's non-test .rego modules (no samples, no data) into TARGET."""
    modules = [p for p in policy_dir.rglob("*.rego") if not p.name.endswith("_test.rego")]
    if not modules:
        raise CatalogueError(f"{policy_dir} holds no .rego modules; pass --policies DIR")
    for module in modules:
        dest = target / module.relative_to(policy_dir)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(module, dest)


def _run(cmd: Sequence[str], what: str) -> str:
    proc = subprocess.run(list(cmd), capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise CatalogueError(f"{what} failed (exit {proc.returncode}): {proc.stderr.strip() or proc.stdout.strip()}")
    return proc.stdout


def _opa(opa: Path | None) -> Path:
    try:
        return opa or tool_path("opa")
    except ToolMissing as exc:
        raise CatalogueError(str(exc)) from exc


def _evaluate(opa_bin: Path, lib: Path, query: str) -> Any:
    """The value of QUERY over the library copy LIB; CatalogueError when it is undefined."""
    evaluated = json.loads(_run([str(opa_bin), "eval", "--format", "json", "-d", str(lib), query], f"opa eval {query}"))
    try:
        return evaluated["result"][0]["expressions"][0]["value"]
    except (KeyError, IndexError, TypeError) as exc:
        raise CatalogueError(f"{query} is undefined; the library must define it") from exc


def read_library(policy_dir: Path, opa: Path | None = None) -> tuple[list[Rule], list[Parameter]]:
    """The rules and parameters of the library in POLICY_DIR, validated."""
    opa_bin = _opa(opa)
    with tempfile.TemporaryDirectory(prefix="dsgate-catalogue-") as tmp:
        lib = Path(tmp) / "policies"
        _library_copy(policy_dir, lib)
        inspected = json.loads(_run([str(opa_bin), "inspect", "-a", "--format", "json", str(lib)], "opa inspect"))
        docs = _evaluate(opa_bin, lib, "data.dsgate.lib.parameter_docs")
    rules = _rules(inspected.get("annotations") or [], lib)
    parameters = [
        Parameter(name=name, default=doc.get("default"), description=str(doc.get("description", "")))
        for name, doc in sorted(docs.items())
    ]
    _validate(rules, parameters)
    _validate_categories(rules, lib)
    return rules, parameters


def read_agents(policy_dir: Path, opa: Path | None = None) -> list[dict[str, Any]]:
    """The catalogue of well-known node agents (data.dsgate.agents.catalogue, policies/dsgate/agents/agents.rego)."""
    opa_bin = _opa(opa)
    with tempfile.TemporaryDirectory(prefix="dsgate-catalogue-") as tmp:
        lib = Path(tmp) / "policies"
        _library_copy(policy_dir, lib)
        agents: list[dict[str, Any]] = _evaluate(opa_bin, lib, "data.dsgate.agents.catalogue")
    return agents


def read_helpers(policy_dir: Path, opa: Path | None = None) -> list[str]:
    """The helper sidecar images that need no probes (data.dsgate.agents.helpers), sorted."""
    opa_bin = _opa(opa)
    with tempfile.TemporaryDirectory(prefix="dsgate-catalogue-") as tmp:
        lib = Path(tmp) / "policies"
        _library_copy(policy_dir, lib)
        helpers: list[str] = _evaluate(opa_bin, lib, "data.dsgate.agents.helpers")
    return sorted(helpers)


def _rules(annotations: list[dict[str, Any]], root: Path) -> list[Rule]:
    rules = []
    for entry in annotations:
        meta = entry.get("annotations") or {}
        custom = meta.get("custom") or {}
        if "id" not in custom:
            continue
        location = entry.get("location") or {}
        where = f"{Path(location.get('file', '?')).relative_to(root) if location.get('file') else '?'}:{location.get('row', '?')}"
        missing = [k for k in ("category", "severity", "remediation") if not custom.get(k)]
        if not meta.get("title"):
            missing.insert(0, "title")
        if missing:
            raise CatalogueError(f"policies/{where}: rule {custom['id']} has no {', '.join(missing)} in its METADATA")
        parameters = custom.get("parameters", [])
        if not isinstance(parameters, list):
            raise CatalogueError(f"policies/{where}: rule {custom['id']} custom.parameters must be a list")
        rules.append(
            Rule(
                id=str(custom["id"]),
                title=str(meta["title"]),
                category=str(custom["category"]),
                severity=str(custom["severity"]),
                parameters=tuple(str(p) for p in parameters),
                remediation=" ".join(str(custom["remediation"]).split()),
                references=tuple(
                    (str(r.get("description") or r.get("ref")), str(r.get("ref")))
                    for r in meta.get("related_resources") or []
                ),
                location=f"policies/{where}",
                profile=str(custom.get("profile", DEFAULT_PROFILE)),
                rationale=" ".join(str(custom.get("rationale", "")).split()),
                admission=str(custom.get("admission", "")),
                admission_reason=" ".join(str(custom.get("admission_reason", "")).split()),
            )
        )
    return sorted(rules, key=lambda r: (r.category, r.id))


def _validate(rules: list[Rule], parameters: list[Parameter]) -> None:
    problems = []
    known = {p.name for p in parameters}
    seen: dict[str, str] = {}
    for rule in rules:
        if not ID_PATTERN.match(rule.id):
            problems.append(f"{rule.location}: id {rule.id!r} is not of the form DS-XXX-000")
        if rule.id in seen:
            problems.append(f"{rule.location}: id {rule.id} is also used at {seen[rule.id]}")
        seen.setdefault(rule.id, rule.location)
        if rule.severity not in SEVERITIES:
            problems.append(f"{rule.location}: {rule.id} has severity {rule.severity!r}, not deny or warn")
        if rule.profile not in PROFILES:
            problems.append(
                f"{rule.location}: {rule.id} has profile {rule.profile!r}, not one of {', '.join(PROFILES)}"
            )
        problems += _admission_problems(rule)
        for name in rule.parameters:
            if name not in known:
                problems.append(
                    f"{rule.location}: {rule.id} names parameter {name!r}, which parameter_docs does not define"
                )
    for parameter in parameters:
        if not parameter.description:
            problems.append(f"parameter {parameter.name} has no description in parameter_docs")
    if not rules:
        problems.append("no rule carries a METADATA custom.id")
    if problems:
        raise CatalogueError("invalid policy metadata:\n  " + "\n  ".join(problems))


def _admission_problems(rule: Rule) -> list[str]:
    """custom.admission is vap or ci-only, and a ci-only rule says why in custom.admission_reason."""
    if rule.admission not in ADMISSION:
        return [
            f"{rule.location}: {rule.id} has admission {rule.admission or 'missing'!r}; set custom.admission to "
            f"{' or '.join(ADMISSION)}"
        ]
    if rule.admission == "ci-only" and not rule.admission_reason:
        return [f"{rule.location}: {rule.id} is admission: ci-only without custom.admission_reason; say why"]
    return []


def _validate_categories(rules: list[Rule], root: Path) -> None:
    """Every rule lives in policies/dsgate/rules/<folder>/ and has that folder's category."""
    rules_root = rules_dir(root).relative_to(root).as_posix()
    problems = []
    for rule in rules:
        folder = rule.location.removeprefix(f"policies/{rules_root}/").split("/")[0]
        if not rule.location.startswith(f"policies/{rules_root}/"):
            problems.append(f"{rule.location}: {rule.id} is outside policies/{rules_root}/<category>/")
        elif rule.category != category_of(folder):
            problems.append(
                f"{rule.location}: {rule.id} has category {rule.category!r}, not {category_of(folder)!r}, the category of its folder"
            )
    if problems:
        raise CatalogueError("invalid policy metadata:\n  " + "\n  ".join(problems))


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def render(
    rules: list[Rule],
    parameters: list[Parameter],
    agents: Sequence[dict[str, Any]] = (),
    evidence: Sequence[evidence_mod.Evidence] = (),
    helpers: Sequence[str] = (),
) -> str:
    """The generated markdown section, markers included. EVIDENCE fills the Evidence column (the
    behaviour experiment that shows the rule's runtime hazard happening)."""
    shown = evidence_mod.by_rule(list(evidence))
    lines = [
        BEGIN,
        "",
        "### Rules",
        "",
        "| ID | Title | Category | Severity | Profile | Admission | Parameters | Rationale | Remediation | Evidence |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for rule in rules:
        params = ", ".join(f"`{p}`" for p in rule.parameters) or "-"
        rationale = _cell(rule.rationale) or "-"
        if rule.references:
            rationale += " Sources: " + "; ".join(f"[{_cell(d)}]({u})" for d, u in rule.references) + "."
        proof = evidence_mod.cell(shown.get(rule.id, []), "../")
        lines.append(
            f"| {rule.id} | {_cell(rule.title)} | {rule.category} | {rule.severity} | {rule.profile} | {_admission(rule)} | "
            f"{params} | {rationale} | "
            f"{_cell(rule.remediation)} | {_cell(proof)} |"
        )
    used: dict[str, list[str]] = {}
    for rule in rules:
        for name in rule.parameters:
            used.setdefault(name, []).append(rule.id)
    lines += ["", "### Parameters", "", "| Parameter | Default | Description | Used by |", "|---|---|---|---|"]
    for p in parameters:
        default = json.dumps(p.default, separators=(", ", ": "))
        lines.append(
            f"| `{p.name}` | `{_cell(default)}` | {_cell(p.description)} | {', '.join(used.get(p.name, [])) or '-'} |"
        )
    if agents:
        lines += [
            "",
            "### Well-known agents",
            "",
            "Recognised only when BOTH a name label (the value of `app.kubernetes.io/name`, `k8s-app`, `app` or `name` on the pod "
            "template, else on the DaemonSet) is one listed AND one of the pod's images has a listed repository path (without the "
            "registry host, and a mirror's extra path prefix is allowed); a DaemonSet labelled `cilium` that runs another image gets "
            "nothing. The first match wins. What each agent needs is allowed for that agent only, without configuration; a need's "
            "parameter given in `data.dsgate.parameters` overrides the catalogue for that need, and `well_known_agents: false` turns "
            "it off. Network agents are never told to use cluster DNS (DS-HST-004). Source: `policies/dsgate/agents/agents.rego`.",
            "",
            "| Agent | Kind | Name labels | Image repositories | Host namespaces | Root | Privileged | Capabilities | Seccomp | Writable host paths |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for agent in agents:
            needs = agent["needs"]
            yes = {True: "yes", False: "-"}
            codes = _codes
            seccomp = "Unconfined" if needs["seccomp_unconfined"] else "-"
            lines.append(
                f"| {agent['name']} | {agent['kind']} | {codes(agent['labels'])} | {codes(agent['images'])} | "
                f"{', '.join(needs['host_namespaces']) or '-'} | {yes[needs['root']]} | {yes[needs['privileged']]} | "
                f"{codes(needs['capabilities'])} | {seccomp} | {codes(needs['writable_host_paths'])} |"
            )
        lines += ["", "Every agent in the catalogue may tolerate every taint and counts as node-critical."]
    if helpers:
        lines += [
            "",
            f"Helper sidecars, recognised by image, need no probes (DS-PRB-001..003): {', '.join(f'`{h}`' for h in helpers)}.",
        ]
    lines += ["", END]
    return "\n".join(lines)


def _admission(rule: Rule) -> str:
    """The Admission cell: `vap` (a ValidatingAdmissionPolicy, dsgate admission render) or ci-only with its reason."""
    return "vap" if rule.admission == "vap" else f"ci-only: {_cell(rule.admission_reason)}"


def _codes(items: Sequence[str]) -> str:
    """Items as a comma-separated list of code spans, or "-"."""
    return ", ".join(f"`{x}`" for x in items) or "-"


def splice(text: str, section: str, where: str, begin: str = BEGIN, end_marker: str = END) -> str:
    """TEXT with the part between the markers replaced by SECTION."""
    start, end = text.find(begin), text.find(end_marker)
    if start < 0 or end < start:
        raise CatalogueError(
            f"{where} has no '{begin}' ... '{end_marker}' markers; add them where the generated section goes"
        )
    return text[:start] + section + text[end + len(end_marker) :]


def read_evidence(rules: list[Rule]) -> list[evidence_mod.Evidence]:
    """The behaviour experiments' evidence markers, each naming a rule of the library."""
    try:
        found = evidence_mod.collect()
    except (ValueError, SyntaxError, OSError) as exc:
        raise CatalogueError(f"cannot read the evidence markers: {exc}") from None
    known = {r.id for r in rules}
    unknown = sorted({f"{e.rule_id} ({e.test})" for e in found if e.rule_id not in known})
    if unknown:
        raise CatalogueError(f"evidence markers name rules the library does not have: {', '.join(unknown)}")
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dsgate.docs.catalogue", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the catalogue is stale instead of rewriting it")
    parser.add_argument("--policies", type=Path, default=policies_dir(), help="policy library (default: %(default)s)")
    parser.add_argument("--readme", type=Path, help="markdown file to update (default: POLICIES/README.md)")
    parser.add_argument(
        "--evidence-readme",
        type=Path,
        default=README,
        help="markdown file with the rules-with-evidence table (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    readme: Path = args.readme or args.policies / "README.md"
    try:
        rules, parameters = read_library(args.policies)
        agents = read_agents(args.policies)
        helpers = read_helpers(args.policies)
        evidence = read_evidence(rules)
        current = readme.read_text()
        wanted = splice(current, render(rules, parameters, agents, evidence, helpers), str(readme))
        top_current = args.evidence_readme.read_text()
        table = evidence_mod.render_table({r.id: _cell(r.title) for r in rules}, evidence)
        top_wanted = splice(top_current, table, str(args.evidence_readme), evidence_mod.BEGIN, evidence_mod.END)
    except (CatalogueError, OSError) as exc:
        print(f"dsgate.docs.catalogue: {exc}", file=sys.stderr)
        return 2
    if top_current != top_wanted:
        if args.check:
            print(
                f"{args.evidence_readme}: the rules-with-evidence table is stale; run 'python -m dsgate.docs.catalogue'",
                file=sys.stderr,
            )
            return 1
        args.evidence_readme.write_text(top_wanted)
        print(f"{args.evidence_readme}: wrote the rules-with-evidence table ({len(evidence)} experiments)")
    if current == wanted:
        if args.check:
            print(f"{readme}: catalogue of {len(rules)} rules and {len(parameters)} parameters is current")
        return 0
    if args.check:
        diff = difflib.unified_diff(
            current.splitlines(), wanted.splitlines(), str(readme), "generated", lineterm="", n=0
        )
        print("\n".join(list(diff)[:40]), file=sys.stderr)
        print(f"{readme}: the rule catalogue is stale; run 'python -m dsgate.docs.catalogue'", file=sys.stderr)
        return 1
    readme.write_text(wanted)
    print(f"{readme}: wrote the catalogue of {len(rules)} rules and {len(parameters)} parameters")
    return 0


if __name__ == "__main__":
    sys.exit(main())
