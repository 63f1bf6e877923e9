"""Every ci/*-values.yaml scenario: identical under helm v4 and v3, lint-clean, schema-valid for the
last four Kubernetes minors, and a rendered fluent.conf that parses and passes the structural checks
against the rendered DaemonSet's own mounts and env."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest
from tests.charts.fluentd import fluentconf
from tests.support import KUBE_TARGETS, opa_findings

from dsgate import yamlc
from dsgate.gate.documents import Document, Provenance
from dsgate.gate.render import helm_template_text
from dsgate.gate.validate import Validator
from dsgate.tools import tool_path

from .support import (
    CHART,
    CONTAINER,
    FIXTURES,
    REQUIRED_SCENARIOS,
    SCENARIOS,
    conf_files,
    container,
    daemonset,
    find,
    helm_lint,
    image_variant,
    pod_spec,
    render,
    scenario_file,
)

pytestmark = pytest.mark.render

# Kinds served by CRDs; their schemas are not in kubernetes-validate.


def scenario(name: str, helm: str = "v4") -> list[dict]:
    return render(files=[scenario_file(name)], helm=helm)


def scenario_conf(name: str, objs: list[dict]) -> fluentconf.Config:
    """The scenario's fluent.conf: the generated one, or the hand-written fixture for existing-configmap."""
    if name == "existing-configmap":
        assert find(objs, "ConfigMap") is None, "existingConfigMap must suppress the generated ConfigMap"
        folder = FIXTURES / "existing-configmap"
        return fluentconf.parse_files({p.name: p.read_text() for p in folder.glob("*.conf")})
    return fluentconf.parse_files(conf_files(objs))


def test_required_scenarios_exist() -> None:
    missing = REQUIRED_SCENARIOS - set(SCENARIOS)
    assert not missing, f"missing ci scenarios: {sorted(missing)}"


@pytest.mark.parametrize("name", SCENARIOS)
def test_helm_v4_and_v3_render_identically(name: str) -> None:
    v4 = helm_template_text(CHART, values_files=[scenario_file(name)], helm="v4")
    v3 = helm_template_text(CHART, values_files=[scenario_file(name)], helm="v3")
    # Byte-identical. Every template ends with `{{- end -}}`: helm v4 keeps a template's trailing
    # newline as an empty line before the next `---`, helm v3 drops it.
    assert "kind: DaemonSet" in v4
    assert v4 == v3


@pytest.mark.parametrize("helm", ["v4", "v3"])
@pytest.mark.parametrize("name", SCENARIOS)
def test_helm_lint_strict(name: str, helm: str) -> None:
    proc = helm_lint([scenario_file(name)], helm=helm)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 chart(s) failed" in proc.stdout


@pytest.mark.parametrize("name", SCENARIOS)
def test_strict_kubernetes_schemas(name: str) -> None:
    """Every object, custom resources included (real CRD schemas), on the four target versions."""
    docs = [Document(obj, Provenance(str(CHART), "chart", scenario=name), i) for i, obj in enumerate(scenario(name))]
    assert [str(e) for e in Validator(KUBE_TARGETS).validate_all(docs)] == []
    assert len(docs) >= 4  # DaemonSet, ServiceAccount, Service, PDB at least


@pytest.mark.parametrize("name", SCENARIOS)
def test_fluent_conf_passes_structural_checks(name: str) -> None:
    objs = scenario(name)
    config = scenario_conf(name, objs)
    spec = pod_spec(objs)
    problems = fluentconf.check(
        config,
        variant=image_variant(objs),
        mounts=fluentconf.mounts_of(spec, CONTAINER),
        env=fluentconf.env_names(spec, CONTAINER),
    )
    assert [str(p) for p in problems] == []
    # The checks saw real work: a tail source with its position file, and an output.
    tails = [d for d in config.find("source") if d.type == "tail"]
    assert tails and all(t.get("pos_file", "").startswith("/var/lib/fluentd/pos/") for t in tails)
    assert config.find("match")


@pytest.mark.parametrize("name", SCENARIOS)
def test_node_agent_invariants(name: str) -> None:
    objs = scenario(name)
    ds = daemonset(objs)
    spec = pod_spec(objs)
    selector = ds["spec"]["selector"]["matchLabels"]
    assert set(selector) == {"app.kubernetes.io/name", "app.kubernetes.io/instance"}
    assert selector.items() <= ds["spec"]["template"]["metadata"]["labels"].items()
    pdb = find(objs, "PodDisruptionBudget")
    if pdb is not None:
        assert pdb["spec"]["selector"]["matchLabels"] == selector
        assert isinstance(pdb["spec"]["minAvailable"], int)
    # The helm test pod is never selected by the DaemonSet (nor the PDB, which uses the same selector).
    test_pod = find(objs, "Pod")
    if test_pod is not None:
        assert not selector.items() <= test_pod["metadata"]["labels"].items()
    # Host access: no host network or ports; every hostPath typed; only /var/lib/fluentd writable.
    assert not spec.get("hostNetwork") and not spec.get("hostPID")
    assert all("hostPort" not in p for p in container(objs)["ports"])
    mounts = fluentconf.mounts_of(spec, CONTAINER)
    for vol in spec["volumes"]:
        if "hostPath" in vol:
            assert vol["hostPath"].get("type") in ("Directory", "DirectoryOrCreate"), vol
    for m in mounts:
        if m.kind == "hostPath" and not m.read_only:
            assert m.host_path.startswith("/var/lib/fluentd/"), m
        if m.kind == "hostPath" and m.read_only:
            assert m.path == m.host_path, f"log mount {m.volume} must keep the node's path so symlinks resolve"
    sc = container(objs)["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
    assert "ALL" in sc["capabilities"]["drop"] and sc["seccompProfile"]["type"] == "RuntimeDefault"
    assert sc["runAsUser"] == 0 and sc["runAsNonRoot"] is False
    resources = container(objs)["resources"]
    assert resources["requests"]["memory"] == resources["limits"]["memory"]
    c = container(objs)
    assert c["readinessProbe"] != c["livenessProbe"]
    assert ds["spec"]["minReadySeconds"] > 0


@pytest.mark.parametrize("name", SCENARIOS)
def test_credentials_never_in_configmap(name: str) -> None:
    """Every secretKeyRef in the values becomes env; the ConfigMap only names the env variable."""
    values = yamlc.safe_load(scenario_file(name).read_text()) or {}
    objs = scenario(name)
    env = {e["name"]: e for e in container(objs).get("env", [])}
    refs = [e["valueFrom"]["secretKeyRef"] for e in env.values() if "secretKeyRef" in e.get("valueFrom", {})]
    output = values.get("output", {})
    kind = output.get("type", "stdout")
    section = output.get(kind, {}) if isinstance(output.get(kind), dict) else {}
    wanted = [v["secretKeyRef"] for v in section.values() if isinstance(v, dict) and "secretKeyRef" in v]
    for ref in wanted:
        assert ref in refs, f"{ref} not wired as a secretKeyRef env"
    cm = find(objs, "ConfigMap")
    if cm is not None:
        text = "\n".join(cm["data"].values())
        for ref in wanted:
            assert ref["name"] not in text, f"Secret {ref['name']} named in the ConfigMap"
        # Inline credentials are caught by the structural check (fluentconf.SECRET_PARAMS) in every scenario.


def _checksum(objs: list[dict]) -> str:
    return daemonset(objs)["spec"]["template"]["metadata"]["annotations"]["checksum/config"]


@pytest.mark.parametrize(
    ("values", "expected_rolls"),
    [
        pytest.param({"config": {"logLevel": "debug"}}, True, id="config-value-rolls"),
        pytest.param({"output": {"type": "http", "http": {"endpoint": "https://x.example"}}}, True, id="output-rolls"),
        pytest.param({"runtime": "docker"}, True, id="runtime-changes-parser-rolls"),
        pytest.param({"resources": {"requests": {"cpu": "200m"}}}, False, id="resources-do-not-touch-checksum"),
        pytest.param({"podAnnotations": {"a": "b"}}, False, id="annotations-do-not-touch-checksum"),
    ],
)
def test_checksum_follows_the_config(values: dict, expected_rolls: bool) -> None:
    """checksum/config is the sha256 of the ConfigMap: a config change rolls the pods, nothing else does."""
    base = _checksum(render())
    assert len(base) == 64 and int(base, 16) >= 0
    assert (_checksum(render(values)) != base) is expected_rolls


def test_checksum_with_existing_configmap_names_it() -> None:
    objs = render({"existingConfigMap": "my-config"})
    assert _checksum(objs) == hashlib.sha256(b"my-config").hexdigest()


@pytest.mark.policy
@pytest.mark.parametrize("name", SCENARIOS)
def test_policy_library_has_no_denies(name: str, tmp_path: Path) -> None:
    """The project's Rego library (policies/, real opa) finds nothing to deny in any scenario."""
    findings = opa_findings([{"path": f"charts/fluentd[{name}]", "contents": obj} for obj in scenario(name)], tmp_path)
    denies = [f"{f['rule']}: {f['message']}" for f in findings if f["severity"] == "deny" and not f["exempted"]]
    assert denies == []


@pytest.mark.parametrize(
    ("values", "expected_lines", "unexpected_lines"),
    [
        pytest.param(
            {},
            ["runs as the DaemonSet dsgate-system/dsgate-fluentd", "The output is stdout", "helm test dsgate"],
            ["ConfigMap mine"],
            id="default",
        ),
        pytest.param(
            {"existingConfigMap": "mine", "service": {"enabled": False}},
            ["The configuration comes from the ConfigMap mine"],
            ["helm test"],
            id="existing-configmap",
        ),
        pytest.param(
            {"buffer": {"type": "hostPath"}},
            ["buffers on the node in /var/lib/fluentd/buffer"],
            ["emptyDir"],
            id="hostpath-buffer",
        ),
    ],
)
def test_notes(values: dict, expected_lines: list[str], unexpected_lines: list[str], tmp_path: Path) -> None:
    """NOTES.txt, rendered by a client-side dry-run install with the real helm."""
    (tmp_path / "values.json").write_text(json.dumps(values))
    proc = subprocess.run(
        [
            str(tool_path("helm")),
            "install",
            "dsgate",
            str(CHART),
            "--namespace",
            "dsgate-system",
            "--dry-run=client",
            "--values",
            str(tmp_path / "values.json"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    notes = proc.stdout.split("NOTES:", 1)[1]
    assert [line for line in expected_lines if line not in notes] == []
    assert [line for line in unexpected_lines if line in notes] == []
