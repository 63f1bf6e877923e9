"""Helpers of the policy tests: the sample manifests and a client of the real OPA server."""

from __future__ import annotations

import json
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dsgate import yamlc
from dsgate.docs.catalogue import category_of
from dsgate.paths import rules_dir
from tests.support import POLICIES, REPO

COMMUNITY = Path(__file__).resolve().parent / "community"


@dataclass(frozen=True)
class Sample:
    """One manifest file of policies/dsgate/rules/<category>/samples/<rule>/ (or tests/policy/community/)."""

    path: Path
    rule: str  # the rule the sample is about ("" for community samples)
    category: str  # the folder's category ("" for community samples)
    verdict: str  # "allowed" | "denied" | "community"
    expect: frozenset[str] = frozenset()  # further rules a denied sample declares (# expect: ...)
    exempted: frozenset[str] = frozenset()  # rules it expects reported as exempted (# exempted: ...)
    data: dict[str, Any] = field(default_factory=dict)  # data.dsgate for it (# data: {json})
    documents: tuple[dict[str, Any], ...] = ()

    @property
    def id(self) -> str:
        return str(self.path.relative_to(REPO))

    def gate_input(self) -> list[dict[str, Any]]:
        """One entry per document, the way the dsgate gate sends a render."""
        return [{"path": f"{self.id}#{i}", "contents": doc} for i, doc in enumerate(self.documents)]

    def combined_input(self) -> list[dict[str, Any]]:
        """One entry per file with an array of documents (the shape of conftest before 0.71)."""
        return [{"path": self.id, "contents": list(self.documents)}]


def _header(text: str) -> dict[str, str]:
    """The `# key: value` lines before the first document."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        key, sep, value = line[1:].strip().partition(":")
        if sep and key in ("expect", "exempted", "data"):
            values[key] = value.strip()
    return values


def _ids(value: str) -> frozenset[str]:
    return frozenset(v.strip() for v in value.split(",") if v.strip())


def load_sample(path: Path, rule: str = "", category: str = "", verdict: str = "community") -> Sample:
    text = path.read_text()
    header = _header(text)
    documents = tuple(d for d in yamlc.safe_load_all(text) if d is not None)
    return Sample(
        path=path,
        rule=rule,
        category=category,
        verdict=verdict,
        expect=_ids(header.get("expect", "")),
        exempted=_ids(header.get("exempted", "")),
        data=json.loads(header["data"]) if "data" in header else {},
        documents=documents,
    )


def sample_files(policies: Path = POLICIES) -> list[Path]:
    """The sample manifests of every rule of the library in POLICIES, sorted."""
    return sorted(rules_dir(policies).glob("*/samples/*/*.yaml"))


def rule_samples() -> list[Sample]:
    """Every policies/dsgate/rules/<category>/samples/<rule>/{allowed,denied}*.yaml, sorted."""
    samples = []
    for path in sample_files():
        verdict = path.name.split("-")[0].removesuffix(".yaml")
        samples.append(
            load_sample(path, rule=path.parent.name, category=category_of(path.parents[2].name), verdict=verdict)
        )
    return samples


class Opa:
    """A running `opa run --server` with the policy library, bound to 127.0.0.1."""

    def __init__(self, url: str) -> None:
        self.url = url

    def request(self, method: str, path: str, body: Any | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.url + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            raw = response.read()
        return json.loads(raw) if raw else None

    def query(self, rule: str, input_data: Any, data: dict[str, Any] | None = None) -> Any:
        """The value of data.<rule> for the input; DATA is put under data.dsgate for this query only."""
        for key, value in (data or {}).items():
            self.request("PUT", f"/v1/data/dsgate/{key}", value)
        try:
            answer = self.request("POST", f"/v1/data/{rule.replace('.', '/')}", {"input": input_data})
        finally:
            for key in data or {}:
                self.request("DELETE", f"/v1/data/dsgate/{key}")
        assert isinstance(answer, dict) and "result" in answer, f"data.{rule} is undefined: {answer}"
        return answer["result"]

    def findings(self, input_data: Any, data: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        result = self.query("main.findings", input_data, data)
        assert isinstance(result, list)
        return result
