"""The cluster the gate models: what the server check's kube-apiserver allows and where charts land.

One object says it all, so `dsgate check` can print it in one line and a user can change it in one
place (`cluster:` in dsgate.yaml, or the matching flags): whether privileged containers are allowed,
the Pod Security level of a namespace nobody labelled and of named namespaces, the admission plugins
on top of kube-apiserver's own defaults, and the release name and namespace charts are rendered with.

The defaults are a stock kubeadm cluster's (kubernetes cmd/kubeadm/app/phases/controlplane/
manifests.go, getAPIServerCommand): `--allow-privileged=true`, `--enable-admission-plugins=NodeRestriction`
on top of kube-apiserver's default-on plugins (PodSecurity among them), and no Pod Security
configuration, so a namespace without `pod-security.kubernetes.io/enforce` (kube-system included) is
`privileged`: Kubernetes enforces nothing there. A stricter level is a choice a cluster makes; the
gate applies it where the input or the configuration says so, and reports a refusal as a policy
finding (rule DS-PSA-001), not as an API error.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from dsgate.gate.render import RELEASE_NAME, RELEASE_NAMESPACE

PSA_LEVELS = ("privileged", "baseline", "restricted")
KUBEADM_ADMISSION_PLUGINS = ("NodeRestriction",)  # what kubeadm enables beyond kube-apiserver's defaults
# Admission plugins the gate's own server cannot run as a cluster does: it has no controllers, so
# the ServiceAccount plugin would refuse every pod whose namespace's `default` account was never made.
ALWAYS_OFF = ("ServiceAccount",)


@dataclass(frozen=True)
class ClusterModel:
    """The modelled cluster (see the module docstring); every default is kubeadm's."""

    allow_privileged: bool = True
    pod_security: str = "privileged"  # the level of a namespace without a pod-security.kubernetes.io/enforce label
    namespaces: Mapping[str, str] = field(default_factory=dict)  # namespace -> level, over the default
    enable_admission_plugins: tuple[str, ...] = KUBEADM_ADMISSION_PLUGINS  # on top of kube-apiserver's defaults
    disable_admission_plugins: tuple[str, ...] = ()  # of kube-apiserver's defaults
    release_name: str = RELEASE_NAME  # helm template's release name, unless a source sets its own
    namespace: str = RELEASE_NAMESPACE  # the release namespace of a chart, unless a source sets its own

    def apiserver_flags(self) -> list[str]:
        """kube-apiserver's flags for this model."""
        return [
            f"--allow-privileged={str(self.allow_privileged).lower()}",
            f"--enable-admission-plugins={','.join(self.enable_admission_plugins)}",
            f"--disable-admission-plugins={','.join((*self.disable_admission_plugins, *ALWAYS_OFF))}",
        ]

    def describe(self) -> str:
        """The model in one line, as `dsgate check` prints it."""
        named = "".join(f", {ns}={level}" for ns, level in sorted(self.namespaces.items()))
        plugins = "kube-apiserver defaults" + "".join(f" +{p}" for p in self.enable_admission_plugins)
        plugins += "".join(f" -{p}" for p in (*self.disable_admission_plugins, *ALWAYS_OFF))
        return (
            f"cluster model: allow-privileged={str(self.allow_privileged).lower()}; Pod Security default={self.pod_security}{named}; "
            f"admission plugins: {plugins}; charts released as {self.release_name} in {self.namespace}"
        )


def problems(model: ClusterModel) -> list[str]:
    """What is wrong with MODEL (an unknown level, a plugin the gate cannot run), each with its fix."""
    out = [
        f"Pod Security level {level!r} ({where}) is not one of {', '.join(PSA_LEVELS)}"
        for where, level in (
            ("default", model.pod_security),
            *((f"namespace {ns}", lvl) for ns, lvl in model.namespaces.items()),
        )
        if level not in PSA_LEVELS
    ]
    out += [
        f"admission plugin {p} cannot be enabled: the server check runs no controllers, so it would refuse every pod; leave it out"
        for p in model.enable_admission_plugins
        if p in ALWAYS_OFF
    ]
    both = sorted(set(model.enable_admission_plugins) & set(model.disable_admission_plugins))
    out += [f"admission plugin {p} is both enabled and disabled; keep it in one list" for p in both]
    return out
