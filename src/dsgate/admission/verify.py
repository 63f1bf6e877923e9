"""Render's proof that a set works before it is printed: installed on a private API server, and run.

`dsgate admission render` installs its set on a LocalServer through install.install (the API refuses
a policy whose CEL does not compile; the status controller type-checks validations and messages),
then dry-run creates every DaemonSet of the library's samples with every binding turned to Warn: a
policy whose CEL fails at run time (a wrong variable, which the API server's type check does not
cover, or the CEL cost budget) names itself in a warning or a refusal, and render stops with that
policy, the sample and the error. A probe policy, installed after all the others, says when admission
has loaded them (with mutating policies in the set, a mutating probe too: the two kinds load
apart). Refusals of the API's own validation (a sample that is meant to be invalid) are not
the policies' business and pass.
"""

from __future__ import annotations

import copy
import json
import re
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import yaml

from dsgate import yamlc
from dsgate.admission import install, params, policies
from dsgate.admission.library import AdmissionError
from dsgate.admission.localserver import LocalServer
from dsgate.gate.servercheck import ServerCheckError
from dsgate.paths import rules_dir

JSON = dict[str, Any]
PROBE = "dsgate-render-probe.dsgate.io"
PROBE_LABEL = "dsgate.io/render-probe"
NAMESPACE = "dsgate-render"
LOAD_TIMEOUT = 60.0
WORKERS = 8
# The request's handler died (a panic in the API server closes the connection): seen with a
# MutatingAdmissionPolicy's JSONPatch whose value is a list of Object{} on v1.36.3.
DROPPED = "dropped"
# How the API server reports a policy whose CEL failed while it ran (warning or refusal text); a
# mutating policy's refusal says `policy 'NAME' with binding 'B' denied request: ... resulted in error`.
_FAILED = re.compile(
    r"(?:(?:Validating|Mutating)AdmissionPolicy|policy) '([^']+)'(?:[^\"\\]|\\.)*?(?:resulted in error|fails to evaluate)(?:[^\"\\]|\\.)*"
)


def samples(policy_dir: Path) -> list[tuple[str, JSON]]:
    """(file, DaemonSet) of every sample of the library; a file that is not YAML is skipped."""
    out: list[tuple[str, JSON]] = []
    for path in sorted(rules_dir(policy_dir).glob("*/samples/**/*.yaml")):
        try:
            docs = list(yamlc.safe_load_all(path.read_text()))
        except (OSError, yaml.YAMLError):
            continue
        where = path.relative_to(policy_dir).as_posix()
        out += [(where, d) for d in docs if isinstance(d, dict) and d.get("kind") == "DaemonSet" and d.get("metadata")]
    return out


def shadow(objects: Sequence[JSON]) -> list[JSON]:
    """OBJECTS with every validating binding Warn (all policies answer), plus the probe (and, when
    OBJECTS have mutating policies, a mutating probe that annotates the probe DaemonSet)."""
    out = copy.deepcopy(list(objects))
    for obj in out:
        if obj["kind"] == policies.VAP_BINDING:
            obj["spec"]["validationActions"] = ["Warn"]
    meta = {"name": PROBE, "labels": dict(params.MANAGED_BY), "annotations": {policies.RULE_ANNOTATION: "probe"}}
    rule = {"apiGroups": ["apps"], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["daemonsets"]}
    match: JSON = {"resourceRules": [rule], "objectSelector": {"matchLabels": {PROBE_LABEL: "true"}}}
    probe: JSON = {
        "apiVersion": policies.API_VERSION,
        "kind": policies.VAP,
        "metadata": meta,
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": copy.deepcopy(match),
            "validations": [{"expression": "false", "message": "probe"}],
        },
    }
    out += [probe, policies.binding(probe, ["Warn"])]
    if any(o["kind"] == policies.MAP for o in out):  # mutating policies load apart: a probe of their own
        patch = f"Object{{metadata: Object.metadata{{annotations: {{'{PROBE_LABEL}': 'mutated'}}}}}}"
        mutating = {
            "apiVersion": policies.API_VERSION,
            "kind": policies.MAP,
            "metadata": copy.deepcopy(meta),
            "spec": {
                "failurePolicy": "Fail",
                "matchConstraints": copy.deepcopy(match),
                "mutations": [{"patchType": "ApplyConfiguration", "applyConfiguration": {"expression": patch}}],
                "reinvocationPolicy": "Never",
            },
        }
        out += [mutating, policies.binding(mutating)]
    return out


def _dry_run(server: LocalServer, ds: JSON) -> tuple[int, str]:
    """(status, warnings and error text) of a dry-run create of DS; (0, DROPPED) when the server
    dropped it twice."""
    status, text, _ = _dry_run_answer(server, ds)
    return status, text


def _dry_run_answer(server: LocalServer, ds: JSON) -> tuple[int, str, str]:
    """(status, warnings and error text, the response body) of a dry-run create of DS."""
    body = {**ds, "metadata": {**ds["metadata"], "namespace": NAMESPACE}}
    path = f"/apis/apps/v1/namespaces/{NAMESPACE}/daemonsets"
    try:
        answer = server.api.request("POST", path, body, {"dryRun": "All"})
    except ServerCheckError:  # a keep-alive connection the server closed: once more on a new one
        try:
            answer = server.api.request("POST", path, body, {"dryRun": "All"})
        except ServerCheckError:
            return 0, DROPPED, ""
    text = answer.warning + (answer.text if answer.status_code >= 400 else "")
    return answer.status_code, text, answer.text


def _loaded(server: LocalServer, probe: JSON, mutating: bool) -> bool:
    """Whether admission has loaded the probe policies: the validating one names the probe DaemonSet,
    and (MUTATING) the mutating one annotated it."""
    status, text, body = _dry_run_answer(server, probe)
    if text == DROPPED:
        raise AdmissionError(_dropped("the probe DaemonSet"))
    failed = _FAILED.search(text) if status >= 400 else None
    if failed:  # refused by a policy that fails on every DaemonSet, the probe's too
        raise AdmissionError(_failed(failed, "the probe DaemonSet"))
    if PROBE not in text:
        return False
    if not mutating:
        return True
    annotations = (json.loads(body).get("metadata") or {}).get("annotations") or {} if status == 201 else {}
    return annotations.get(PROBE_LABEL) == "mutated"


def _wait_loaded(server: LocalServer, mutating: bool) -> None:
    probe = {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "dsgate-render-probe", "labels": {PROBE_LABEL: "true"}},
        "spec": {
            "selector": {"matchLabels": {"app": "probe"}},
            "template": {
                "metadata": {"labels": {"app": "probe"}},
                "spec": {"containers": [{"name": "probe", "image": "registry.k8s.io/pause:3.10"}]},
            },
        },
    }
    deadline = time.monotonic() + LOAD_TIMEOUT
    while not _loaded(server, probe, mutating):
        if time.monotonic() > deadline:
            raise AdmissionError(f"the private API server did not load the policies within {LOAD_TIMEOUT:g}s")
        time.sleep(0.2)


def verify(objects: Sequence[JSON], daemonsets: Sequence[tuple[str, JSON]]) -> None:
    """AdmissionError unless OBJECTS install on a private API server and their CEL runs on DAEMONSETS."""
    with LocalServer() as server:
        install.install(install.Kubectl(server.kubeconfig), shadow(objects), progress=lambda _: None)
        if not daemonsets:
            return
        namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}
        server.api.request("POST", "/api/v1/namespaces", namespace)
        _wait_loaded(server, any(o["kind"] == policies.MAP for o in objects))
        with ThreadPoolExecutor(WORKERS) as pool:
            answers = list(pool.map(lambda item: _dry_run(server, item[1]), daemonsets))
    for (where, _), (_, text) in zip(daemonsets, answers, strict=True):
        if text == DROPPED:
            raise AdmissionError(_dropped(where))
        failed = _FAILED.search(text)
        if failed:
            raise AdmissionError(_failed(failed, where))


def _failed(failed: re.Match[str], where: str) -> str:
    detail = " ".join(failed.group(0).split())[:400]
    return f"{failed.group(1)}: its CEL fails on {where}: {detail}; fix the rule's admission.yaml"


def _dropped(where: str) -> str:
    return (
        f"the private API server dropped the dry-run of {where} twice (a policy crashed its handler, e.g. a "
        "JSONPatch value that is a list of Object{}); fix the mutation in the rule's admission.yaml"
    )
