"""Input and render limits: what one `dsgate check` accepts before it refuses (exit 2).

Each limit is a key of `limits:` in dsgate.yaml; the defaults (README, "Limits") fit this repo's
inputs many times over and keep a hostile input's cost bounded on a CI runner.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from typing import Any

from dsgate.errors import DsgateError

_UNITS = {"": 1, "Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30}
_QUANTITY = re.compile(r"^\s*(\d+)\s*(Ki|Mi|Gi)?\s*$")


class LimitError(DsgateError):
    """An input crossed a limit; the message names the input, the limit and how to raise it."""


@dataclass(frozen=True)
class Limits:
    """The limits (key in dsgate.yaml: field name in camelCase)."""

    file_size: int = 16 << 20  # bytes of one YAML file the gate reads
    documents: int = 50_000  # documents of one input (a render, a kustomize build, a directory of YAML files)
    depth: int = 100  # nesting depth of one document (mappings and sequences)
    render_size: int = 64 << 20  # bytes one render (helm, kustomize) may print
    render_seconds: int = 60  # wall time of one render
    render_memory: int = 1 << 30  # resident memory of one render process, kernel-enforced (see gate.render.os_limits)
    policy_seconds: int = 30  # wall time of one OPA evaluation request
    policy_memory: int = 4 << 30  # address space of the OPA server

    @staticmethod
    def key(name: str) -> str:
        head, *rest = name.split("_")
        return head + "".join(word.title() for word in rest)

    def exceeded(self, origin: str, name: str, value: int | str) -> LimitError:
        """The error for ORIGIN crossing limit NAME (a field name), with VALUE what it reached."""
        limit = getattr(self, name)
        return LimitError(
            f"{origin}: {value} exceeds the limit {Limits.key(name)}={limit}; raise 'limits: {{{Limits.key(name)}: N}}' in dsgate.yaml if it is legitimate"
        )


def parse(raw: Any, where: str) -> Limits:
    """Limits from dsgate.yaml's `limits:` mapping (sizes as integers or with Ki/Mi/Gi)."""
    if raw is None:
        return Limits()
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: 'limits' must be a mapping")
    known = {Limits.key(f.name): f.name for f in fields(Limits)}
    unknown = set(raw) - set(known)
    if unknown:
        raise ValueError(
            f"{where}: unknown limit(s) {', '.join(sorted(map(str, unknown)))}; known: {', '.join(sorted(known))}"
        )
    values: dict[str, int] = {}
    for key, value in raw.items():
        match = _QUANTITY.match(str(value)) if isinstance(value, int | str) and not isinstance(value, bool) else None
        if match is None or int(match.group(1)) <= 0:
            raise ValueError(
                f"{where}: limits.{key} must be a positive integer (sizes may end in Ki, Mi or Gi), not {value!r}"
            )
        values[known[key]] = int(match.group(1)) * _UNITS[match.group(2) or ""]
    return Limits(**values)
