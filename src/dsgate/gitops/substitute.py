"""Flux postBuild variable substitution, as kustomize-controller performs it.

What Flux does (fluxcd/pkg kustomize + envsubst, read, not copied):
- variables come from `substituteFrom` ConfigMaps/Secrets in order (later ones win), then
  `substitute` (wins over all); every value has its newlines removed; names must match
  `^[_a-zA-Z][_a-zA-Z0-9]*$`;
- substitution runs only when there is at least one variable, per object, on its YAML text, and is
  skipped for an object labelled or annotated `kustomize.toolkit.fluxcd.io/substitute: disabled`;
- only the braced form is expanded: `${var}`, `${var:=default}`, `${var:-default}`, `${var=default}`
  (and `:?`, `:+`, which Flux also treats as "default when empty"); `$var` stays as written;
  `$$` is an escaped `$` (so `$${var}` leaves `${var}`); an unset variable is the empty string.
Other bash operators (`${#var}`, `${var/a/b}`, ...) are refused with a clear error rather than guessed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from dsgate.errors import DsgateError

DISABLED_KEY = "kustomize.toolkit.fluxcd.io/substitute"
VAR_NAME = re.compile(r"^[_a-zA-Z][_a-zA-Z0-9]*$")
_IDENT = re.compile(r"[\w]+")
_DEFAULT_OPS = (":=", ":-", ":?", ":+", "=")


class SubstitutionError(DsgateError, ValueError):
    """A variable name or a `${...}` expression Flux would reject (or dsgate does not implement)."""


def check_names(variables: Mapping[str, str]) -> None:
    for name in variables:
        if not VAR_NAME.match(name):
            raise SubstitutionError(f"'{name}' var name is invalid, must match '{VAR_NAME.pattern}'")


def substitute(text: str, variables: Mapping[str, str]) -> str:
    """TEXT with every `${...}` expression expanded from VARIABLES."""
    out, _ = _expand(text, 0, variables, top=True)
    return out


def _expand(text: str, pos: int, variables: Mapping[str, str], *, top: bool) -> tuple[str, int]:
    """Expand from POS; at top level to the end, inside a default up to (not past) its closing brace."""
    parts: list[str] = []
    while pos < len(text):
        ch = text[pos]
        if ch == "$" and text.startswith("$$", pos):
            parts.append("$")
            pos += 2
        elif ch == "$" and text.startswith("${", pos):
            value, pos = _expression(text, pos + 2, variables)
            parts.append(value)
        elif not top and ch == "}":
            return "".join(parts), pos
        elif not top and ch == "\\" and pos + 1 < len(text) and text[pos + 1] in "/\\":
            parts.append(text[pos + 1])
            pos += 2
        else:
            parts.append(ch)
            pos += 1
    if not top:
        raise SubstitutionError("missing closing brace")
    return "".join(parts), pos


def _expression(text: str, pos: int, variables: Mapping[str, str]) -> tuple[str, int]:
    """The value of the `${...}` whose name starts at POS; returns it and the position after `}`."""
    match = _IDENT.match(text, pos)
    if not match:
        raise SubstitutionError(f"unable to parse variable name at {text[pos - 2 : pos + 20]!r}")
    name, pos = match.group(), match.end()
    value = variables.get(name, "")
    if text.startswith("}", pos):
        return value, pos + 1
    op = next((o for o in _DEFAULT_OPS if text.startswith(o, pos)), None)
    if op is None:
        raise SubstitutionError(
            f"unsupported substitution '${{{name}{text[pos : pos + 10]}...': dsgate implements ${{var}} and the default forms (:=, :-, =)"
        )
    default, pos = _expand(text, pos + len(op), variables, top=False)
    return (value or default), pos + 1
