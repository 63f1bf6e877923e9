# METADATA
# title: Pod Security
# description: >-
#   What the target cluster's Pod Security admission does to the agent's pods. The verdicts come from
#   the gate's server check (the real kube-apiserver, at each namespace's level in the cluster model):
#   the gate adds one `dsgate.io/v1` ServerCheckVerdict document per refused workload to the input.
#   Without verdicts in the input (conftest alone) the rule has nothing to report.
package dsgate.rules.pod_security

import data.dsgate.lib

# METADATA
# title: The namespace's Pod Security level admits the pods
# description: >-
#   Pod Security admission refuses every pod that breaks its namespace's level (baseline refuses
#   host namespaces, hostPath volumes, privileged containers; restricted also wants non-root,
#   no privilege escalation, dropped capabilities and a seccomp profile). A DaemonSet whose pods
#   are refused is created and then runs on no node at all. The level is the namespace's
#   pod-security.kubernetes.io/enforce label in the input, else dsgate.yaml
#   cluster.podSecurity.namespaces, else its default (privileged, as Kubernetes' own).
# scope: rule
# custom:
#   id: DS-PSA-001
#   category: pod-security
#   severity: deny
#   profile: minimal
#   admission: ci-only
#   admission_reason: >-
#     Reads the verdict of the gate's server check (a ServerCheckVerdict document: the real Pod Security
#     admission at the namespace's level from the input or the cluster model), not the DaemonSet itself.
#     In the cluster the built-in PodSecurity admission applies the namespace's level to the pods (and
#     warns on the DaemonSet).
#   field: spec.template.spec
#   remediation: >-
#     Give the pods only what the namespace's level admits, or run the agent in a namespace labelled
#     pod-security.kubernetes.io/enforce with the level it needs (node agents usually need
#     privileged); if the cluster's level for that namespace differs, set it in dsgate.yaml
#     cluster.podSecurity.
findings contains finding if {
	some verdict in lib.of_kind(lib.entries, "ServerCheckVerdict")
	verdict.object.apiVersion == "dsgate.io/v1"
	verdict.object.check == "PodSecurity"
	subject := verdict.object.subject
	some doc in lib.of_kind(lib.entries, subject.kind)
	doc.ref == concat("/", [subject.kind, subject.namespace, subject.name])
	finding := lib.finding(rego.metadata.rule(), doc, sprintf(
		"%s: namespace <%s> is at Pod Security level %q, which refuses its pods: %s",
		[lib.display(doc), verdict.object.namespace, verdict.object.level, verdict.object.reason],
	))
}
