"""The validator's two engines agree.

`dsgate.gate.validate` asks jsonschema-rs "valid?" and only sends invalid documents to python-jsonschema
for the full error list. A document the fast engine passes is never looked at again, so the two must
give the same verdict. This checks it on every policy sample, every chart's CI scenarios, and on
mutants of them: each leaf set to null, to a wrong type, and an unknown key added to each mapping.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from dsgate.gate import validate
from dsgate.gate.documents import Provenance, load_file, parse_stream
from dsgate.gate.render import helm_template_text
from tests.policy.helpers import sample_files
from tests.support import CHARTS, NEWEST_KUBE

pytestmark = pytest.mark.render


def _corpus() -> list[dict[str, Any]]:
    # the samples of DS-PSA-001 carry the server check's verdict (dsgate.io/v1), which no API server validates
    objs = [d.obj for path in sample_files() for d in load_file(path) if not d.api_version.startswith("dsgate.io/")]
    for chart in ("node-exporter", "fluentd"):
        for values in sorted((CHARTS / chart / "ci").glob("*-values.yaml")):
            text = helm_template_text(CHARTS / chart, values_files=(values,))
            objs.extend(d.obj for d in parse_stream(text, str(values), Provenance(chart, "chart")))
    unique = {repr(o): o for o in objs}
    return list(unique.values())


def _mutants(obj: dict[str, Any], seen: set[tuple[Any, ...]]) -> Iterator[dict[str, Any]]:
    """OBJ with one change: a node nulled or retyped, or an unknown key added to a mapping. A change
    already made at the same place of the same kind (list indices aside) in SEEN is not repeated."""

    def walk(node: Any, path: tuple[Any, ...]) -> Iterator[tuple[Any, ...]]:
        yield path
        children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for key, child in children:
            yield from walk(child, (*path, key))

    for path in walk(obj, ()):
        if not path or path[0] in ("apiVersion", "kind"):
            continue
        node = obj
        for key in path[:-1]:
            node = node[key]
        shape = (obj["kind"], *("#" if isinstance(k, int) else k for k in path))
        if shape in seen:
            continue
        seen.add(shape)
        value = node[path[-1]]
        replacements: list[Any] = [None, 12345 if isinstance(value, str) else "not-a-number"]
        if isinstance(value, dict):
            replacements.append({**value, "unknownFieldDsgate": 1})
        for replacement in replacements:
            mutant = copy.deepcopy(obj)
            target = mutant
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = replacement
            yield mutant


def _schemas_for(obj: dict[str, Any]) -> list[Any]:
    api_version, kind = str(obj.get("apiVersion", "")), str(obj.get("kind", ""))
    schema = validate._builtin_schema(NEWEST_KUBE, api_version, kind) or validate._crd_schema(api_version, kind)
    assert schema is not None, f"no schema for {api_version}/{kind}"
    return [schema]


def test_engines_agree_on_documents_and_their_mutants() -> None:
    corpus = _corpus()
    assert len(corpus) >= 80, f"corpus too small to mean anything: {len(corpus)} documents"
    checked = invalid = 0
    seen: set[tuple[Any, ...]] = set()
    disagreements: list[str] = []
    for obj in corpus:
        for schema in _schemas_for(obj):
            for instance in (obj, *_mutants(obj, seen)):
                fast = schema.fast.is_valid(instance)
                full = not list(schema.full.iter_errors(instance))
                checked += 1
                invalid += not full
                if fast != full:
                    disagreements.append(
                        f"{obj['kind']}/{obj['metadata'].get('name')}: jsonschema-rs says {fast}, python-jsonschema {full}"
                    )
    assert not disagreements, "\n".join(disagreements[:20])
    assert invalid > checked // 4, f"mutants too weak: only {invalid} of {checked} instances invalid"
