"""`dsgate admission install|uninstall`: the admission set into a cluster, all-or-nothing, and out by label.

Everything goes through the pinned kubectl (server-side apply, field manager `dsgate`), so a
kubeconfig works as it does for kubectl. install:
1. checks the set (render.check_set: every binding's policy, the params object) and saves the set
   dsgate installed before (every object labelled app.kubernetes.io/managed-by: dsgate of the kinds
   below);
2. dry-runs every object on the server (`--dry-run=server`: the API refuses a policy whose CEL does
   not compile), the params object only once its CRD is served and a binding only once its policy
   is there (see _dry_run);
3. applies the CRD (waits until it is Established), the params object, the policies, waits until the
   status controller has type-checked every ValidatingAdmissionPolicy (`status.typeChecking` must be
   empty), then the bindings, and last deletes what the previous set had and this one has not.
On any failure in 3 it rolls back: deletes what it created and applies the previous set again, so the
cluster keeps the set it had. A policy is applied before its binding: a policy that fails its type
check never enforces anything. uninstall deletes exactly the objects of these kinds that carry the
label, bindings first.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dsgate import procs
from dsgate.admission import params, policies
from dsgate.admission.library import AdmissionError
from dsgate.admission.render import check_set
from dsgate.tools import ToolMissing, tool_path

SELECTOR = "app.kubernetes.io/managed-by=dsgate"
FIELD_MANAGER = "dsgate"
CRD_KIND = "CustomResourceDefinition"
CRD_NAME = f"{params.PLURAL}.{params.GROUP}"
ADMISSION = "admissionregistration.k8s.io"
# kind -> kubectl's resource name, in install order (bindings after their policies)
RESOURCES = {
    CRD_KIND: "customresourcedefinitions.apiextensions.k8s.io",
    params.KIND: f"{params.PLURAL}.{params.GROUP}",
    policies.VAP: f"validatingadmissionpolicies.{ADMISSION}",
    policies.MAP: f"mutatingadmissionpolicies.{ADMISSION}",
    policies.VAP_BINDING: f"validatingadmissionpolicybindings.{ADMISSION}",
    policies.MAP_BINDING: f"mutatingadmissionpolicybindings.{ADMISSION}",
}
CRD_REF = f"{RESOURCES[CRD_KIND]}/{CRD_NAME}"  # the params CRD as kubectl names one object
RBAC = (
    "get, list, create, patch and delete on customresourcedefinitions (apiextensions.k8s.io), "
    "dsgateparameters (dsgate.io), and validatingadmissionpolicies, validatingadmissionpolicybindings, "
    "mutatingadmissionpolicies, mutatingadmissionpolicybindings (admissionregistration.k8s.io), watch on "
    "customresourcedefinitions and get on every resource of dsgate.io (deploy/admission-clusterrole.yaml)"
)
BINDING_POLICY = {binding: policy for policy, binding in policies.BINDING_OF.items()}
TYPE_CHECK_TIMEOUT = 60.0
KUBECTL_TIMEOUT = 120.0
CRD_WAIT = 60.0  # seconds to wait for the CRD to be Established, or to be gone (its custom resources deleted first)
# kubectl's client allows bursts of 10 requests, then 5 a second (client-go's defaults; kubectl has no
# flag for them), and a delete by name costs it two (a GET, then the DELETE). Names go to concurrent
# kubectl processes DELETE_CHUNK at a time, each within its burst: deleting the full set's 36 bindings
# and 36 policies took 11.5 s of waits in one process per kind.
DELETE_CHUNK = 5
DELETE_PROCESSES = 8
_POLL = 0.2
_SERVER_FIELDS = ("resourceVersion", "uid", "generation", "creationTimestamp", "managedFields", "selfLink")

JSON = dict[str, Any]


class InstallError(AdmissionError):
    """The set could not be installed or removed; the message names the cause and the fix."""


@dataclass(frozen=True)
class Kubectl:
    """The pinned kubectl on one cluster (KUBECONFIG, CONTEXT: kubectl's defaults when empty)."""

    kubeconfig: Path | None = None
    context: str | None = None

    def run(self, args: Sequence[str], stdin: str | None = None, what: str = "") -> str:
        try:
            binary = tool_path("kubectl")
        except ToolMissing as exc:
            raise InstallError(f"{exc}") from None
        argv = [str(binary), *args, "--request-timeout=60s"]
        if self.kubeconfig:
            argv.append(f"--kubeconfig={self.kubeconfig}")
        if self.context:
            argv.append(f"--context={self.context}")
        try:
            proc = procs.run(argv, input=stdin.encode() if stdin is not None else None, timeout=KUBECTL_TIMEOUT)
        except procs.Timeout as exc:
            raise InstallError(f"kubectl {args[0]} {exc}; is the cluster reachable?") from None
        if proc.returncode != 0:
            raise _error(proc.stderr.decode(errors="replace"), what or f"kubectl {args[0]}")
        return proc.stdout.decode(errors="replace")

    def apply(self, objects: Sequence[JSON], dry_run: bool = False) -> None:
        if not objects:
            return
        args = ["apply", "--server-side", "--force-conflicts", f"--field-manager={FIELD_MANAGER}", "-f", "-"]
        stream = json.dumps({"apiVersion": "v1", "kind": "List", "items": list(objects)})
        self.run([*args, *(["--dry-run=server"] if dry_run else [])], stream, "dry-run" if dry_run else "apply")

    def get(self, resource: str, names: Sequence[str] = ()) -> list[JSON]:
        """The objects of RESOURCE with dsgate's label (or NAMES)."""
        which = list(names) if names else ["-l", SELECTOR]
        got: JSON = json.loads(self.run(["get", resource, *which, "-o", "json"]))
        return list(got["items"]) if "items" in got else [got]  # one name: the object itself

    def delete(self, resource: str, names: Sequence[str], wait: bool = False) -> None:
        """Delete NAMES of RESOURCE (absent ones are no error), DELETE_CHUNK per kubectl process, concurrently;
        with WAIT, return once they are gone (their finalizers ran), as kubectl delete does by default."""
        until = ["--wait=true", f"--timeout={CRD_WAIT:g}s"] if wait else ["--wait=false"]
        argvs = [
            ["delete", resource, *names[i : i + DELETE_CHUNK], "--ignore-not-found", *until]
            for i in range(0, len(names), DELETE_CHUNK)
        ]
        if len(argvs) < 2:  # none or one: no thread
            for argv in argvs:
                self.run(argv)
            return
        with ThreadPoolExecutor(min(len(argvs), DELETE_PROCESSES)) as pool:
            runs = [pool.submit(self.run, argv) for argv in argvs]
        for run in runs:
            run.result()  # the first chunk's error, after every chunk ran


def _error(stderr: str, what: str) -> InstallError:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    first = next((line for line in lines if line.startswith("Error")), lines[0] if lines else "no output")
    if "forbidden" in stderr.lower():
        return InstallError(f"{what}: forbidden ({first[:300]}); dsgate admission needs {RBAC}")
    if "connection refused" in stderr or "no such host" in stderr or "Unable to connect" in stderr:
        return InstallError(f"{what}: cannot reach the cluster ({first[:300]}); check --kubeconfig/--context")
    return InstallError(f"{what} refused: {' '.join(first.split())[:600]}")


def _key(obj: JSON) -> tuple[str, str]:
    return (str(obj.get("kind")), str((obj.get("metadata") or {}).get("name")))


def _crd_served(k: Kubectl, progress: Callable[[str], None]) -> bool:
    """Whether the params CRD is installed and serves its resource. One being deleted (its custom
    resources go first) no longer serves it, and applying it again would not stop the deletion: its
    deletion is waited out (an uninstall by an older dsgate, or a `kubectl delete --wait=false`)."""
    crd = next((o for o in k.get(RESOURCES[CRD_KIND]) if _key(o) == (CRD_KIND, CRD_NAME)), None)
    if crd is None:
        return False
    if crd["metadata"].get("deletionTimestamp"):
        progress(f"waiting for {CRD_NAME}, being deleted, to be gone")
        _wait_crd(k, "delete", f"the CRD {CRD_NAME} being deleted")
        return False
    conditions = (crd.get("status") or {}).get("conditions") or []
    if not any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions):
        _wait_crd(k)  # just created (by another install): its resource is served once it is Established
    return True


def installed(k: Kubectl, progress: Callable[[str], None] = lambda _: None) -> list[JSON]:
    """Every object dsgate installed on K's cluster (the label), in install order."""
    crd = _crd_served(k, progress)  # without it the params resource is unknown and kubectl get refuses it
    kinds = [kind for kind in RESOURCES if crd or kind != params.KIND]
    # one kubectl get for every kind (a process each cost ~0.45 s); each kind's items in name order, as listed
    found = k.get(",".join(RESOURCES[kind] for kind in kinds))
    return sorted(found, key=lambda o: kinds.index(str(o.get("kind"))))


def _clean(obj: JSON) -> JSON:
    """OBJ as it can be applied again: no status, no server-set metadata."""
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k not in _SERVER_FIELDS}
    (meta.get("annotations") or {}).pop("kubectl.kubernetes.io/last-applied-configuration", None)
    return {k: v for k, v in {**obj, "metadata": meta}.items() if k != "status"}


def _of(objects: Sequence[JSON], *kinds: str) -> list[JSON]:
    return [o for o in objects if o.get("kind") in kinds]


def wait_type_checked(k: Kubectl, objects: Sequence[JSON], timeout: float = TYPE_CHECK_TIMEOUT) -> None:
    """Wait until the status controller has type-checked every ValidatingAdmissionPolicy of OBJECTS;
    InstallError naming the first whose status.typeChecking has warnings, or when time runs out."""
    names = [o["metadata"]["name"] for o in _of(objects, policies.VAP)]
    deadline = time.monotonic() + timeout
    while names:
        pending = []
        for policy in k.get(RESOURCES[policies.VAP], names):
            status, meta = policy.get("status") or {}, policy["metadata"]
            if status.get("observedGeneration") != meta.get("generation") or "typeChecking" not in status:
                pending.append(meta["name"])
                continue
            warnings = (status.get("typeChecking") or {}).get("expressionWarnings") or []
            if warnings:
                first = warnings[0]
                raise InstallError(
                    f"ValidatingAdmissionPolicy {meta['name']} does not type-check: {first.get('fieldRef')}: "
                    f"{' '.join(str(first.get('warning', '')).split())[:400]}; fix its CEL in the rule's admission.yaml"
                )
        if not pending:
            return
        if time.monotonic() > deadline:
            raise InstallError(
                f"ValidatingAdmissionPolicy {pending[0]} was not type-checked within {timeout:g}s "
                "(status.typeChecking empty): is kube-controller-manager's validatingadmissionpolicy-status-controller running?"
            )
        names = pending
        time.sleep(_POLL)


def _wait_crd(k: Kubectl, until: str = "condition=Established", what: str = "the CRD") -> None:
    """Wait until the params CRD is Established (or, UNTIL "delete", gone)."""
    k.run(["wait", f"--for={until}", CRD_REF, f"--timeout={CRD_WAIT:g}s"], what=what)


def _dry_run(k: Kubectl, objects: Sequence[JSON], previous: Sequence[JSON]) -> None:
    """Dry-run OBJECTS but the params object while its CRD is not served, and a binding whose policy the
    cluster does not have yet: the API server authorizes a binding by its policy's paramKind, and
    without the policy it asks for get on every resource of every group (RBAC no installer should
    need). Such a binding is checked when it is applied, after its policy; a refusal then rolls back."""
    served = (CRD_KIND, CRD_NAME) in {_key(o) for o in previous}  # installed() listed it once it was served
    policies_there = {_key(o) for o in _of(previous, policies.VAP, policies.MAP)}
    k.apply(
        [
            o
            for o in objects
            if (o.get("kind") != params.KIND or served)
            and (
                o.get("kind") not in BINDING_POLICY
                or (BINDING_POLICY[str(o.get("kind"))], str(o["spec"].get("policyName"))) in policies_there
            )
        ],
        dry_run=True,
    )


def _apply(k: Kubectl, objects: Sequence[JSON], previous: Sequence[JSON], timeout: float) -> None:
    k.apply(_of(objects, CRD_KIND))
    if _of(objects, CRD_KIND):
        _wait_crd(k)
    k.apply(_of(objects, params.KIND))
    k.apply(_of(objects, policies.VAP, policies.MAP))
    wait_type_checked(k, objects, timeout)
    k.apply(_of(objects, policies.VAP_BINDING, policies.MAP_BINDING))
    _delete(k, previous, keep={_key(o) for o in objects})


def _delete(
    k: Kubectl, objects: Sequence[JSON], keep: set[tuple[str, str]], progress: Callable[[str], None] = lambda _: None
) -> None:
    """Delete OBJECTS not in KEEP, in reverse install order (bindings first, the CRD last, waited for:
    an install right after must not find it half deleted)."""
    for kind in reversed(RESOURCES):
        names = [_key(o)[1] for o in _of(objects, kind) if _key(o) not in keep]
        if kind == CRD_KIND and names:
            progress(f"deleting {CRD_NAME}: waiting until it is gone (its custom resources first)")
        k.delete(RESOURCES[kind], names, wait=kind == CRD_KIND)


def install(
    k: Kubectl, objects: Sequence[JSON], timeout: float = TYPE_CHECK_TIMEOUT, progress: Callable[[str], None] = print
) -> None:
    """Install OBJECTS (a rendered set) on K's cluster all-or-nothing; InstallError after restoring the previous set."""
    check_set(objects)
    unknown = sorted({str(o.get("kind")) for o in objects} - set(RESOURCES))
    if unknown:
        raise InstallError(
            f"the set holds kinds dsgate does not install: {', '.join(unknown)}; use dsgate admission render"
        )
    previous = [_clean(o) for o in installed(k, progress)]
    _dry_run(k, objects, previous)
    try:
        _apply(k, objects, previous, timeout)
    except BaseException as exc:
        try:
            rollback(k, objects, previous)
        except AdmissionError as again:
            raise InstallError(f"{_message(exc)}; and restoring the previous set failed too: {again.message}") from None
        if isinstance(exc, AdmissionError):
            raise InstallError(f"{exc.message}; the previous set was restored") from None
        raise
    progress(f"installed {len(objects)} objects ({len(_of(objects, policies.VAP))} validating policies)")


def _message(exc: BaseException) -> str:
    return exc.message if isinstance(exc, AdmissionError) else type(exc).__name__


def rollback(k: Kubectl, objects: Sequence[JSON], previous: Sequence[JSON]) -> None:
    """Put back PREVIOUS: delete what OBJECTS added, apply PREVIOUS again (policies before bindings)."""
    _delete(k, objects, keep={_key(o) for o in previous})
    if not previous:
        return
    k.apply(_of(previous, CRD_KIND))
    if _of(previous, CRD_KIND):
        _wait_crd(k)
    for kinds in ((params.KIND,), (policies.VAP, policies.MAP), (policies.VAP_BINDING, policies.MAP_BINDING)):
        k.apply(_of(previous, *kinds))


def uninstall(k: Kubectl, progress: Callable[[str], None] = lambda _: None) -> list[JSON]:
    """Delete every object dsgate installed (the label), bindings first, and wait until the CRD is
    gone; the objects deleted. PROGRESS hears of the waits."""
    found = installed(k, progress)
    _delete(k, found, set(), progress)
    return found
