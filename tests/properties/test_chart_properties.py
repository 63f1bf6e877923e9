"""Property-based: value sets generated from each chart's values.schema.json.

Valid sets must render (helm v4, via helm-batch), validate strictly against Kubernetes 1.36 and keep
the chart invariants. Schema-invalid sets must be rejected by helm with a message naming the key.
Hypothesis shrinks a failure to a minimal value set and prints it.
"""

from __future__ import annotations

import copy
import functools
import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import hypothesis_jsonschema._from_schema as hjs_internals  # noqa: PLC2701  # its format strategies have no public hook
import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema

from dsgate import yamlc
from dsgate.gate.documents import Provenance, parse_stream
from dsgate.gate.render import HelmBatch, RenderError, helm_template_text
from dsgate.gate.validate import Validator
from dsgate.k8s import selector_matches
from tests.support import CHARTS, NEWEST_KUBE

pytestmark = [pytest.mark.render, pytest.mark.slow]

CHART_NAMES = ["node-exporter", "fluentd"]
# CI draws the same examples every run (a red CI means a change broke something, not that the dice
# found an old bug): 100 valid and 50 broken value sets per chart. Most of fluentd's time is not the
# examples but hypothesis-jsonschema canonicalising the Kubernetes-typed schema; the two memoisations
# below cut it (20 examples: 88 s of CPU before them, 21 s after). The large budget is `make fuzz`'s:
# DSGATE_PROPERTY_RANDOM=1 explores fresh examples, DSGATE_PROPERTY_EXAMPLES and
# DSGATE_PROPERTY_INVALID_EXAMPLES set how many (500 and 200 there).
EXAMPLES = int(os.environ.get("DSGATE_PROPERTY_EXAMPLES", "100"))
INVALID_EXAMPLES = int(os.environ.get("DSGATE_PROPERTY_INVALID_EXAMPLES", "50"))
DERANDOMIZE = os.environ.get("DSGATE_PROPERTY_RANDOM", "") != "1"
VALIDATOR = Validator([NEWEST_KUBE])
PROPERTY_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=DERANDOMIZE,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)


def _memoise_subschema_strategies() -> None:
    """Build each sub-schema's strategy once per run instead of once per drawn object.

    hypothesis-jsonschema 0.23.1 turns an object's property schema into a strategy anew every time it
    draws that property, re-canonicalising it (for a Container: the whole Kubernetes type closure).
    With the charts' Kubernetes-typed values that costs ~2 s per fluentd example, ~20 min for 500.
    Strategies are immutable, so one per distinct (sub-schema, alphabet, formats) gives the same
    distribution at ~0.1 s an example. Fails loudly if an upgrade renames the internal function.
    """
    build = hjs_internals.__dict__.get("__from_schema")
    assert callable(build), "hypothesis_jsonschema internals changed: update _memoise_subschema_strategies"
    if getattr(build, "dsgate_memoised", False):
        return
    memo: dict[tuple[str, int, int], st.SearchStrategy[Any]] = {}

    def memoised(schema: Any, *, alphabet: Any, custom_formats: Any) -> st.SearchStrategy[Any]:
        key = (json.dumps(schema, sort_keys=True), id(alphabet), id(custom_formats))
        if key not in memo:
            memo[key] = build(schema, alphabet=alphabet, custom_formats=custom_formats)
        return memo[key]

    memoised.__dict__["dsgate_memoised"] = True
    hjs_internals.__dict__["__from_schema"] = memoised


def _memoise_canonicalisation() -> None:
    """Canonicalise, merge and check each distinct sub-schema once per run.

    Building the strategies above still spent ~90% of fluentd's time in hypothesis-jsonschema
    canonicalising and merging the same Kubernetes sub-schemas again and again, and re-checking
    each against its metaschema (cProfile: 5,380 `check_schema` calls; its validator-class cache
    holds 128 schemas, far fewer than the charts' Kubernetes types). `canonicalish` and `merged` are
    pure functions of JSON: each distinct input is computed once and every call gets a fresh copy of
    the answer (callers mutate it), so the strategies, and the examples drawn, are the same.
    """
    canon = sys.modules["hypothesis_jsonschema._canonicalise"]
    uncached = getattr(canon.__dict__.get("__get_validator_class"), "__wrapped__", None)
    assert callable(uncached), "hypothesis_jsonschema internals changed: update _memoise_canonicalisation"
    if getattr(canon.canonicalish, "dsgate_memoised", False):
        return
    canon.__dict__["__get_validator_class"] = functools.cache(uncached)

    def pure(fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
        memo: dict[str, str] = {}

        def call(arg: Any) -> Any:
            key = json.dumps(arg, sort_keys=True)
            if key not in memo:
                memo[key] = json.dumps(fn(arg))
            return json.loads(memo[key])

        call.__dict__["dsgate_memoised"] = True
        return call

    for name in ("canonicalish", "merged"):
        memoised = pure(getattr(canon, name))
        for module in (canon, hjs_internals):
            assert callable(module.__dict__.get(name)), f"hypothesis_jsonschema internals changed: {name}"
            module.__dict__[name] = memoised


_memoise_subschema_strategies()
_memoise_canonicalisation()


@pytest.fixture(scope="module")
def batch() -> Iterator[HelmBatch]:
    with HelmBatch(size=1) as pool:
        yield pool


def schema_of(chart: str) -> dict[str, Any]:
    return json.loads((CHARTS / chart / "values.schema.json").read_text())


def generation_schema(chart: str) -> dict[str, Any]:
    """The chart's schema, as is, except extraManifests: its items are arbitrary objects rendered verbatim
    (any kind, any API), so random ones cannot validate; the chart tests cover that value by example."""
    schema = schema_of(chart)
    schema["properties"]["extraManifests"] = {"type": "array", "maxItems": 0}
    return schema


def check_invariants(chart: str, values: dict[str, Any], objs: list[dict[str, Any]]) -> None:
    daemonsets = [o for o in objs if o["kind"] == "DaemonSet"]
    assert len(daemonsets) == 1, f"expected exactly one DaemonSet, got {len(daemonsets)}"
    ds = daemonsets[0]
    template = ds["spec"]["template"]
    labels = template["metadata"]["labels"]
    selector = ds["spec"]["selector"]
    assert selector.get("matchLabels"), "selector has no matchLabels"
    assert selector_matches(selector, labels), f"selector {selector} does not select template labels {labels}"
    pod = template["spec"]
    for pdb in (o for o in objs if o["kind"] == "PodDisruptionBudget"):
        assert pdb["metadata"].get("namespace") == ds["metadata"].get("namespace")
        assert selector_matches(pdb["spec"]["selector"], labels), "PDB does not select the DaemonSet's pods"
        assert isinstance(pdb["spec"].get("minAvailable"), int) and "maxUnavailable" not in pdb["spec"]
    pdb_values = values.get("podDisruptionBudget") or {}
    if pdb_values.get("enabled", True):
        assert any(o["kind"] == "PodDisruptionBudget" for o in objs), "PDB enabled but not rendered"
    priority = values.get("priorityClassName", "system-node-critical")
    if priority:
        assert pod.get("priorityClassName") == priority, "priorityClassName missing or changed"
    if values.get("tolerationPreset", "all") != "none" or values.get("tolerations"):
        assert pod.get("tolerations"), "tolerations missing"
    if "resources" not in values:
        for container in pod["containers"]:
            resources = container.get("resources") or {}
            assert resources.get("limits") and resources.get("requests"), (
                f"container {container['name']} lacks requests/limits"
            )


def render_objs(batch: HelmBatch, chart: str, values: dict[str, Any]) -> list[dict[str, Any]]:
    text = helm_template_text(CHARTS / chart, values=values, batch=batch)
    docs = parse_stream(text, f"{chart} generated values", Provenance(chart, "chart"))
    errors = VALIDATOR.validate_all(docs)
    assert not errors, "\n".join(str(e) for e in errors)
    return [d.obj for d in docs]


@pytest.mark.parametrize("chart", CHART_NAMES)
def test_valid_values_render_validate_and_keep_invariants(batch: HelmBatch, chart: str) -> None:
    schema = generation_schema(chart)

    @PROPERTY_SETTINGS
    @given(values=from_schema(schema))
    def prop(values: dict[str, Any]) -> None:
        try:
            objs = render_objs(batch, chart, values)
        except RenderError as exc:
            # cross-field rules the schema cannot express may reject a schema-valid set, but only with a clear message
            # ("execution error at" is helm's wording for a template's own `fail`; anything else is a crash)
            assert "execution error at" in str(exc), f"template crash: {exc}"  # noqa: PT017  # a property: the render may fail or not, pytest.raises cannot say that
            return
        check_invariants(chart, values, objs)

    prop()


def _leaf_paths(node: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    if isinstance(node, dict) and node:
        return [p for k, v in node.items() for p in _leaf_paths(v, (*prefix, k))]
    return [prefix] if prefix else []


def _wrong_type(value: Any) -> Any:
    if isinstance(value, bool):
        return "not-a-bool"
    if isinstance(value, int | float):
        return "not-a-number"
    if isinstance(value, str):
        return {"not": "a string"}
    if isinstance(value, list):
        return "not-a-list"
    return 12345


@st.composite
def invalid_values(draw: st.DrawFn, chart: str) -> tuple[dict[str, Any], str]:
    """Chart defaults with one key broken: a wrong type, or an unknown key. Returns (values, key)."""

    defaults = yamlc.safe_load((CHARTS / chart / "values.yaml").read_text())
    paths = _leaf_paths(defaults)
    path = draw(st.sampled_from(paths))
    values: dict[str, Any] = {}
    node = values
    src: Any = defaults
    for key in path[:-1]:
        node = node.setdefault(key, {})
        src = src[key]
    if draw(st.booleans()):
        node[path[-1]] = _wrong_type(src[path[-1]])
        return values, path[-1]
    unknown = draw(st.from_regex(r"\A[a-z][a-zA-Z]{2,10}Typo\Z"))
    node[unknown] = 1
    return values, unknown


@pytest.mark.parametrize("chart", CHART_NAMES)
def test_schema_invalid_values_rejected_naming_the_key(batch: HelmBatch, chart: str) -> None:
    schema = schema_of(chart)
    validator = jsonschema.validators.validator_for(schema)(schema)

    defaults = yamlc.safe_load((CHARTS / chart / "values.yaml").read_text())

    @settings(
        max_examples=INVALID_EXAMPLES,
        deadline=None,
        derandomize=DERANDOMIZE,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(case=invalid_values(chart))
    def prop(case: tuple[dict[str, Any], str]) -> None:
        values, key = case
        merged = _merge(copy.deepcopy(defaults), values)
        if validator.is_valid(merged):
            return  # e.g. a free-form map accepts any key: not an invalid set
        with pytest.raises(RenderError) as err:
            helm_template_text(CHARTS / chart, values=values, batch=batch)
        pointer = key.replace("~", "~0").replace("/", "~1")  # helm names keys in JSON-pointer form
        assert key in str(err.value) or pointer in str(err.value), f"helm's message does not name {key!r}: {err.value}"

    prop()


def _merge(base: Any, over: Any) -> Any:
    if isinstance(base, dict) and isinstance(over, dict):
        for k, v in over.items():
            base[k] = _merge(base.get(k), v) if k in base else v
        return base
    return over


def test_strategies_see_the_real_schema() -> None:
    for chart in CHART_NAMES:
        schema = schema_of(chart)
        assert schema.get("additionalProperties") is False, f"{chart}: top-level unknown keys must be rejected"
        assert Path(CHARTS / chart / "values.yaml").is_file()
