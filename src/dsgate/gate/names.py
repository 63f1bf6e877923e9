"""The rule each kind's metadata.name must follow, as the API server checks it.

The API server has no single name rule: each kind's validation picks one (kubernetes
pkg/apis/*/validation). Most kinds, custom resources included, take a DNS-1123 subdomain
(`NameIsDNSSubdomain`); a Namespace a DNS-1123 label (`ValidateNamespaceName`); a Service an RFC
1035 label up to Kubernetes 1.35 and a DNS-1123 label (a leading digit allowed) from 1.36, where the
RelaxedServiceNameValidation gate is on (the pinned kube-apiserver accepts `9agent`): the laxer rule
here, as the server check refuses what 1.36 refuses; the RBAC kinds only a path segment (`path.IsValidPathSegmentName`:
not `.` or `..`, no `/` or `%`), so `system:controller:x` and `metallb:speaker` are valid names. A
client-side check stricter than the server is a false schema error, so this table errs on the side
of the server's rule and the server check (tests/gate/test_names.py) proves each row against it.
"""

from __future__ import annotations

import re
from enum import Enum

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


class NameRule(Enum):
    """A name rule: its pattern (None: path segment), its length limit (0: none) and how it is said."""

    SUBDOMAIN = (
        DNS1123_SUBDOMAIN,
        253,
        "a valid DNS-1123 subdomain (lowercase alphanumerics, '-' and '.', at most 253 characters)",
    )
    LABEL = (DNS1123_LABEL, 63, "a valid DNS-1123 label (lowercase alphanumerics and '-', at most 63 characters)")
    PATH_SEGMENT = (None, 0, "a valid path segment name (not '.' or '..', no '/' or '%')")


RBAC_GROUP = "rbac.authorization.k8s.io"
# (group, kind) -> rule, for every kind whose rule is not a DNS-1123 subdomain.
RULES: dict[tuple[str, str], NameRule] = {
    ("", "Namespace"): NameRule.LABEL,
    ("", "Service"): NameRule.LABEL,
    **{
        (RBAC_GROUP, kind): NameRule.PATH_SEGMENT
        for kind in ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding")
    },
}


def rule_for(api_version: str, kind: str) -> NameRule:
    """The rule metadata.name of API_VERSION/KIND follows (a DNS-1123 subdomain unless RULES says else)."""
    group = api_version.rpartition("/")[0] if "/" in api_version else ""
    return RULES.get((group, kind), NameRule.SUBDOMAIN)


def name_error(api_version: str, kind: str, name: str) -> str:
    """Why NAME is not a valid metadata.name for API_VERSION/KIND; '' when it is."""
    rule = rule_for(api_version, kind)
    pattern, limit, what = rule.value
    valid = (
        name not in (".", "..") and "/" not in name and "%" not in name
        if pattern is None
        else len(name) <= limit and pattern.match(name) is not None
    )
    return "" if valid else f"{name!r} is not {what}"
