"""The rules a policy library defines, read from their `# METADATA`: id, category, severity, profile.

The controls of dsgate.yaml (`profile:`, `rules:`, `overrides:`) and of the command line
(`--profile`, `--disable`) name rules by id; an id the library does not define is a configuration
error that lists the known ids, so the ids are read from the library itself (`opa inspect -a`, the
same source as the catalogue) and never written down a second time. Two findings are raised by the
gate itself rather than by a Rego rule (a deprecated API version, an unused exemption); their ids
are defined where they are raised and joined in here.

Profiles nest: minimal ⊂ baseline ⊂ strict. A rule's profile is the smallest one that includes it
(`custom.profile`); a rule without one is in `baseline`, the default profile.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from dsgate import jsoncache, rundir
from dsgate.errors import DsgateError
from dsgate.gate.evaluate import SEVERITIES
from dsgate.tools import ToolMissing, tool_path

PROFILES = ("minimal", "baseline", "strict")  # each includes the ones before it
DEFAULT_PROFILE = "baseline"
__all__ = ["DEFAULT_PROFILE", "PROFILES", "SEVERITIES", "RuleInfo", "RulesetError", "in_profile", "read", "rules_of"]


class RulesetError(DsgateError):
    """The library's rule metadata cannot be read; the gate cannot select rules by it."""


@dataclass(frozen=True)
class RuleInfo:
    id: str
    category: str
    severity: str  # the library's default: deny or warn
    profile: str = DEFAULT_PROFILE


def in_profile(rule_profile: str, profile: str) -> bool:
    """Whether a rule of RULE_PROFILE runs under PROFILE (an unknown rule profile counts as baseline)."""
    rank = PROFILES.index(rule_profile) if rule_profile in PROFILES else PROFILES.index(DEFAULT_PROFILE)
    return rank <= PROFILES.index(profile)


def rules_of(annotations: list[dict[str, Any]]) -> dict[str, RuleInfo]:
    """The rules among `opa inspect -a` annotations: every one whose METADATA has custom.id."""
    out: dict[str, RuleInfo] = {}
    for entry in annotations:
        meta = entry.get("annotations") or {}
        custom = meta.get("custom") or {}
        if "id" not in custom:
            continue
        out[str(custom["id"])] = RuleInfo(
            id=str(custom["id"]),
            category=str(custom.get("category", "")),
            severity=str(custom.get("severity", "deny")),
            profile=str(custom.get("profile") or DEFAULT_PROFILE),
        )
    return out


def read(policy_dir: Path, extra: Mapping[str, RuleInfo] | None = None) -> dict[str, RuleInfo]:
    """Every rule of the library in POLICY_DIR (its non-test .rego modules), plus EXTRA (the gate's own)."""
    if not policy_dir.is_dir():
        raise RulesetError(f"policy directory {policy_dir} does not exist; pass --policies DIR")
    modules = [p for p in policy_dir.rglob("*.rego") if not p.name.endswith("_test.rego")]
    if not modules:
        raise RulesetError(f"{policy_dir} holds no .rego modules; pass --policies DIR with the policy library")
    try:
        opa = tool_path("opa")
    except ToolMissing as exc:
        raise RulesetError(f"OPA is not available: {exc}") from exc
    # `opa inspect` takes 0.1 s idle and over 0.5 s on a loaded machine: its answer is kept per library content.
    digest = jsoncache.key(
        [str(opa).encode()]
        + [part for m in sorted(modules) for part in (m.relative_to(policy_dir).as_posix().encode(), m.read_bytes())]
    )

    def inspect() -> list[dict[str, Any]]:
        return [asdict(r) for r in _inspect(opa, policy_dir, modules).values()]

    def decode(raw: Any) -> dict[str, RuleInfo]:
        return {r["id"]: RuleInfo(**r) for r in raw}

    return {**jsoncache.load_or_build("rules", digest, inspect, decode), **(extra or {})}


def _inspect(opa: Path, policy_dir: Path, modules: list[Path]) -> dict[str, RuleInfo]:
    """The rules of MODULES (under POLICY_DIR) as `opa inspect -a` reads their METADATA."""
    tmp = rundir.mkdtemp("dsgate-rules-")
    try:
        # A copy of the modules only: samples and data files beside them are not part of the library.
        for module in modules:
            dest = tmp / module.relative_to(policy_dir)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(module, dest)
        proc = subprocess.run(
            [str(opa), "inspect", "-a", "--format", "json", str(tmp)],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if proc.returncode != 0:
        raise RulesetError(f"opa inspect {policy_dir} failed: {(proc.stderr or proc.stdout).strip()[:500]}")
    try:
        annotations = json.loads(proc.stdout).get("annotations") or []
    except (ValueError, AttributeError) as exc:
        raise RulesetError(f"opa inspect {policy_dir} answered malformed JSON: {exc}") from None
    return rules_of(annotations)
