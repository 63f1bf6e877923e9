"""Which rules run, at which severity, for which source: `profile:`, `rules:` and `overrides:` of
dsgate.yaml and `--profile`/`--disable` on the command line; and what the gate says about the
exemptions of dsgate.yaml (the line of an expired one, the ones that matched nothing).

Applied in Python to the findings OPA answered, in one place (`Controls.apply`), and not passed to
OPA as data: a control is a choice of the team running the gate (per source path, which the
library never sees under `conftest test`), while the library keeps answering every rule at its
METADATA severity, the same under the gate and under conftest. Exemptions are different: they
stay in Rego (policies/dsgate/lib/documents.rego), so a data file gives conftest the same
suppressions; the gate only reads back which exemption each finding used (`exempted_by`).

Settings, most specific last: the profile (default `baseline`), then `rules:` (`off`, `on`, `deny`
or `warn` per rule id; any setting but `off` runs the rule whatever the profile), then each
`overrides:` entry whose `paths` globs match the source (relative to dsgate.yaml), in order; the
command line's `--profile` replaces the global profile and `--disable` turns a rule off everywhere.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from dsgate.errors import DsgateError
from dsgate.gate.apiversions import DEPRECATED_API_RULE
from dsgate.gate.evaluate import Finding
from dsgate.gate.ruleset import DEFAULT_PROFILE, PROFILES, SEVERITIES, RuleInfo, in_profile

if TYPE_CHECKING:
    from dsgate.gate.pipeline import GateResult  # the pipeline applies the controls: imported only for the type

UNUSED_EXEMPTION_RULE = "unused-exemption"  # raised by the gate: an exemption of dsgate.yaml matched no finding
EXEMPTION_PATH = re.compile(r"^data\.dsgate\.exemptions\[(\d+)\]$")  # a data exemption, as documents.rego names it
# The rules the gate raises itself (not Rego rules): known ids for the controls, with their profiles.
GATE_RULES = {
    DEPRECATED_API_RULE: RuleInfo(DEPRECATED_API_RULE, "hygiene", "warn", "baseline"),
    UNUSED_EXEMPTION_RULE: RuleInfo(UNUSED_EXEMPTION_RULE, "hygiene", "warn", "minimal"),
}
OFF = "off"
ON = "on"
SETTINGS = (OFF, ON, *SEVERITIES)


class ControlError(DsgateError, ValueError):
    """A control names something that does not exist (a profile, a setting, a rule id); the message names the key."""


@dataclass(frozen=True)
class Override:
    """An `overrides:` entry: settings for the sources its PATHS globs match."""

    paths: tuple[str, ...]
    profile: str | None = None
    rules: Mapping[str, str] = field(default_factory=dict)


@dataclass
class Settings:
    """The controls as written (dsgate.yaml plus the command line), before the rule ids are checked."""

    profile: str = DEFAULT_PROFILE
    rules: dict[str, str] = field(default_factory=dict)  # rule id -> off | on | deny | warn
    overrides: list[Override] = field(default_factory=list)
    root: Path = field(default_factory=Path.cwd)  # source paths are matched relative to it (dsgate.yaml's directory)
    config: Path | None = None  # the dsgate.yaml the exemptions come from
    exemptions: list[dict[str, Any]] = field(default_factory=list)  # its exemptions, as written
    exemption_lines: list[int] = field(default_factory=list)  # the line of each in CONFIG
    disabled: frozenset[str] = frozenset()  # --disable: off whatever dsgate.yaml says
    report_unused: bool = (
        True  # the run covers every source of dsgate.yaml, so an exemption that matched nothing is unused
    )

    def with_cli(self, profile: str | None, disable: Iterable[str]) -> Settings:
        """These settings with the command line's --profile (replacing `profile:`) and --disable (off for every source, overrides included)."""
        return replace(self, profile=profile or self.profile, disabled=frozenset(disable) | self.disabled)

    def check(self, known: Mapping[str, RuleInfo], where: str) -> None:
        """Every rule id named in dsgate.yaml (WHERE) is one of KNOWN; else ControlError naming the key and the known ids."""
        named = [(f"rules.{rule}", rule) for rule in self.rules]
        named += [(f"overrides[{i}].rules.{rule}", rule) for i, o in enumerate(self.overrides) for rule in o.rules]
        named += [(f"exemptions[{i}].rule", str(e.get("rule", ""))) for i, e in enumerate(self.exemptions)]
        for key, rule in named:
            check_rule(rule, known, f"{where}: {key}")


def check_rule(rule: str, known: Mapping[str, RuleInfo], key: str) -> None:
    """ControlError unless RULE is one of KNOWN; KEY names where it was written."""
    if rule not in known:
        raise ControlError(
            f"{key} names rule {rule!r}, which the policy library does not define; known ids: {', '.join(sorted(known))}"
        )


def _setting(value: Any, key: str) -> str:
    """A rule's setting; YAML 1.1 reads a bare off/on as false/true."""
    setting = {False: OFF, True: ON}.get(value, value) if isinstance(value, bool) else value
    if setting not in SETTINGS:
        raise ControlError(f"{key} is {value!r}; use one of {', '.join(SETTINGS)}")
    return str(setting)


def _profile(value: Any, key: str) -> str:
    if value not in PROFILES:
        raise ControlError(f"{key} is {value!r}; use one of {', '.join(PROFILES)}")
    return str(value)


def _rules(value: Any, key: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise ControlError(f"{key} must map rule ids to one of {', '.join(SETTINGS)}")
    return {str(rule): _setting(setting, f"{key}.{rule}") for rule, setting in value.items()}


def parse(raw: Mapping[str, Any], where: str) -> Settings:
    """The `profile`, `rules` and `overrides` keys of a dsgate.yaml mapping RAW (WHERE names the file)."""
    try:
        settings = Settings(
            profile=_profile(raw.get("profile", DEFAULT_PROFILE), "profile"),
            rules=_rules(raw.get("rules", {}), "rules"),
        )
        overrides = raw.get("overrides", [])
        if not isinstance(overrides, list):
            raise ControlError("overrides must be a list of {paths, profile, rules} mappings")
        for i, entry in enumerate(overrides):
            key = f"overrides[{i}]"
            if not isinstance(entry, dict) or set(entry) - {"paths", "profile", "rules"} or "paths" not in entry:
                raise ControlError(
                    f"{key} must be a mapping with 'paths' (globs of source paths) and 'profile' and/or 'rules'"
                )
            paths = entry["paths"]
            if isinstance(paths, str):
                paths = [paths]
            if not isinstance(paths, list) or not paths or not all(isinstance(p, str) and p for p in paths):
                raise ControlError(
                    f"{key}.paths must be a non-empty list of globs of source paths, relative to dsgate.yaml"
                )
            profile = _profile(entry["profile"], f"{key}.profile") if "profile" in entry else None
            settings.overrides.append(Override(tuple(paths), profile, _rules(entry.get("rules", {}), f"{key}.rules")))
    except ControlError as exc:
        raise ControlError(f"{where}: {exc}") from None
    return settings


SELECTOR_KEYS = ("namespace", "name", "labels", "image")


def check_exemptions(exemptions: Sequence[Mapping[str, Any]], where: str) -> None:
    """Each exemption names a rule and a resource or a selector (the keys documents.rego matches on)."""
    for i, entry in enumerate(exemptions):
        key = f"{where}: exemptions[{i}]"
        unknown = set(entry) - {"rule", "resource", "selector", "reason", "expires"}
        if unknown:
            raise ControlError(
                f"{key} has unknown key(s) {', '.join(sorted(map(str, unknown)))}; use rule, resource or selector, reason, expires"
            )
        if not isinstance(entry.get("rule"), str) or not entry["rule"]:
            raise ControlError(f"{key} needs 'rule': the id of the rule it exempts from")
        if not entry.get("resource") and not entry.get("selector"):
            raise ControlError(
                f"{key} exempts nothing: give 'resource: Kind/namespace/name' or 'selector: {{{', '.join(SELECTOR_KEYS)}}}'"
            )
        selector = entry.get("selector")
        if selector is None:
            continue
        if not isinstance(selector, dict) or not selector or set(selector) - set(SELECTOR_KEYS):
            raise ControlError(f"{key}.selector must be a mapping of {', '.join(SELECTOR_KEYS)}")
        for name in ("namespace", "name", "image"):
            if name in selector and not isinstance(selector[name], str):
                raise ControlError(f"{key}.selector.{name} must be a glob string")
        labels = selector.get("labels")
        if labels is not None and not _label_selector(labels):
            raise ControlError(
                f"{key}.selector.labels must be a label selector: matchLabels (a mapping of strings) and/or "
                "matchExpressions (a list of {key, operator: In|NotIn|Exists|DoesNotExist, values})"
            )


def _label_selector(value: Any) -> bool:
    """Whether VALUE is a Kubernetes LabelSelector that lib.selector_matches can evaluate."""
    if not isinstance(value, dict) or not value or set(value) - {"matchLabels", "matchExpressions"}:
        return False
    match_labels = value.get("matchLabels", {})
    expressions = value.get("matchExpressions", [])
    if not isinstance(match_labels, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in match_labels.items()
    ):
        return False
    return isinstance(expressions, list) and all(
        isinstance(e, dict)
        and isinstance(e.get("key"), str)
        and e.get("operator") in ("In", "NotIn", "Exists", "DoesNotExist")
        and isinstance(e.get("values", []), list)
        for e in expressions
    )


def item_lines(text: str, key: str) -> list[int]:
    """The 1-based line of each item of the top-level list KEY in the YAML TEXT (already checked to load)."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return []
    if not isinstance(node, yaml.MappingNode):
        return []
    for k, v in node.value:
        if isinstance(k, yaml.ScalarNode) and k.value == key and isinstance(v, yaml.SequenceNode):
            return [item.start_mark.line + 1 for item in v.value]
    return []


def source_path(label: str) -> str:
    """The source of a finding's source label, without its `[scenario]`."""
    match = re.fullmatch(r"(.*)\[[^\[\]]*\]", label)
    return match.group(1) if match else label


def relative(path: str, root: Path) -> str:
    """PATH (relative to the working directory) relative to ROOT; absolute when outside it."""
    absolute = Path(os.path.abspath(path))
    try:
        return absolute.relative_to(Path(os.path.abspath(root))).as_posix()
    except ValueError:
        return absolute.as_posix()


def matches(globs: Sequence[str], source: str, root: Path) -> bool:
    """Whether SOURCE (a path) or a directory above it matches one of GLOBS, relative to ROOT (`*` spans `/`)."""
    relative_path = relative(source, root)
    candidates = [relative_path, *(p.as_posix() for p in Path(relative_path).parents if p.as_posix() not in (".", "/"))]
    # `vendor/*` also names the directory vendor itself: a directory of YAML files is one source
    patterns = {p for g in globs for p in (g.rstrip("/"), re.sub(r"/\*{1,2}$", "", g.rstrip("/")))}
    return any(fnmatch.fnmatchcase(c, p) for p in patterns for c in candidates)


@dataclass
class Controls:
    """SETTINGS checked against the library's RULES: applies them to a gate result."""

    settings: Settings
    rules: Mapping[str, RuleInfo]

    def effective(self, rule: str, source: str, severity: str) -> str | None:
        """The severity of a finding of RULE in SOURCE that the library gave SEVERITY; None when the rule
        does not run there (a rule the library's METADATA does not list runs in every profile)."""
        s = self.settings
        profile, setting = s.profile, s.rules.get(rule)
        for override in s.overrides:
            if matches(override.paths, source_path(source), s.root):
                profile = override.profile or profile
                setting = override.rules.get(rule, setting)
        info = self.rules.get(rule)
        if setting == OFF or rule in s.disabled:
            return None
        if setting in SEVERITIES:
            return setting
        if setting == ON or info is None or in_profile(info.profile, profile):
            return severity
        return None

    def __call__(self, result: GateResult) -> None:
        self.apply(result)

    def apply(self, result: GateResult) -> None:
        """Pin exemption findings to their dsgate.yaml line, report unused exemptions, and keep each
        finding at its effective severity (dropping the ones whose rule does not run for its source)."""
        findings = [self._pinned(f) for f in result.findings]
        if self.settings.report_unused and self.settings.config is not None and not result.errors:
            findings += self._unused(findings)
        if not result.errors:  # an annotation is checked with its resource: a subset of sources is no reason to skip it
            findings += _unused_annotations(result, findings)
        kept: dict[tuple[str, str, str, str, bool], Finding] = {}
        for f in findings:
            severity = self.effective(f.rule, f.source, f.severity)
            if severity is None:
                continue
            kept.setdefault((f.source, f.rule, f.resource, f.message, f.exempted), replace(f, severity=severity))
        result.findings = sorted(kept.values(), key=lambda f: (f.origin, f.resource, f.severity, f.rule, f.message))

    def _config_label(self) -> str:
        config = self.settings.config
        return relative(str(config), Path.cwd()) if config else ""

    def _line(self, index: int) -> int:
        lines = self.settings.exemption_lines
        return lines[index] if index < len(lines) else 0

    def _pinned(self, f: Finding) -> Finding:
        """A finding about a data exemption (no reason, expired, bad date) points at its line in dsgate.yaml."""
        match = EXEMPTION_PATH.match(f.data_path)
        if not match or self.settings.config is None:
            return f
        return replace(
            f,
            source=self._config_label(),
            scenarios=(),
            pinned=(str(self.settings.config), self._line(int(match.group(1)))),
        )

    def _unused(self, findings: Sequence[Finding]) -> list[Finding]:
        """One warn finding per exemption of dsgate.yaml that exempted nothing and is not already reported as broken."""
        used = {
            int(m.group(1))
            for f in findings
            for ref in (*f.exempted_by, f.data_path)
            if (m := EXEMPTION_PATH.match(ref))
        }
        out = []
        for i, entry in enumerate(self.settings.exemptions):
            if i in used:
                continue
            what = str(entry.get("resource") or f"selector {entry.get('selector')}")
            out.append(
                Finding(
                    rule=UNUSED_EXEMPTION_RULE,
                    category="hygiene",
                    severity="warn",
                    resource=what,
                    source=self._config_label(),
                    message=f"Exemption exemptions[{i}] of {what} from {entry.get('rule')} matched no finding",
                    remediation="Remove the exemption (the finding it was for is gone), or correct its rule, resource or selector.",
                    exempted=False,
                    pinned=(str(self.settings.config), self._line(i)),
                )
            )
        return out


ANNOTATION_PREFIX = "dsgate.io/exempt."  # as documents.rego's annotation_prefix


def _unused_annotations(result: GateResult, findings: Sequence[Finding]) -> list[Finding]:
    """One warn finding per exemption annotation (with a reason) that exempted no finding of its rule on
    its resource in any render of its source."""
    used = {
        (f.origin, f.resource, f.rule)
        for f in findings
        if f.exempted and any(not EXEMPTION_PATH.match(ref) for ref in f.exempted_by)
    }
    out: dict[tuple[str, str, str], Finding] = {}
    for outcome in result.renders:
        for doc in outcome.documents:
            annotations = (doc.obj.get("metadata") or {}).get("annotations") or {}
            if not isinstance(annotations, dict):
                continue
            source = source_path(doc.provenance.label)
            for key, reason in annotations.items():
                rule = str(key).removeprefix(ANNOTATION_PREFIX)
                if (
                    not str(key).startswith(ANNOTATION_PREFIX)
                    or not str(reason or "").strip()
                    or (source, doc.ref, rule) in used
                ):
                    continue  # not an exemption, one without a reason (DS-HYG-003 reports it), or used
                out.setdefault(
                    (source, doc.ref, rule),
                    Finding(
                        rule=UNUSED_EXEMPTION_RULE,
                        category="hygiene",
                        severity="warn",
                        resource=doc.ref,
                        source=doc.provenance.label,
                        message=f"Annotation {key} exempts {doc.ref} from {rule}, which raised no finding on it",
                        remediation="Remove the annotation (the finding it was for is gone), or correct the rule id in its key.",
                        exempted=False,
                        field="metadata.annotations",
                    ),
                )
    return list(out.values())
