"""Semantic versions and the constraint language Flux and Helm use (Masterminds/semver), enough of it
for chart versions: comparisons (`=`, `!=`, `>`, `>=`, `<`, `<=`), `~`, `^`, wildcards (`1.2.x`, `*`),
hyphen ranges (`1.2 - 1.4`), `,`/space for AND, `||` for OR. As in Masterminds, a pre-release version
matches only a constraint that names a pre-release itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from dsgate.errors import DsgateError

_VERSION = re.compile(r"^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$")
_PART = re.compile(r"^v?(\*|x|X|\d+)(?:\.(\*|x|X|\d+))?(?:\.(\*|x|X|\d+))?(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$")


class ConstraintError(DsgateError, ValueError):
    """A version constraint that does not parse."""


@dataclass(frozen=True, order=False)
class Version:
    major: int
    minor: int
    patch: int
    pre: tuple[int | str, ...] = ()

    @classmethod
    def parse(cls, text: str) -> Version | None:
        m = _VERSION.match(text.strip())
        if not m:
            return None
        pre = tuple(int(p) if p.isdigit() else p for p in m.group(4).split(".")) if m.group(4) else ()
        return cls(int(m.group(1)), int(m.group(2) or 0), int(m.group(3) or 0), pre)

    def key(self) -> tuple[int, int, int, int, tuple[tuple[int, int | str], ...]]:
        # a release sorts after its pre-releases; numeric identifiers sort before alphanumeric ones
        return (
            self.major,
            self.minor,
            self.patch,
            0 if self.pre else 1,
            tuple((0, p) if isinstance(p, int) else (1, p) for p in self.pre),
        )

    def __lt__(self, other: Version) -> bool:
        return self.key() < other.key()

    def __le__(self, other: Version) -> bool:
        return self.key() <= other.key()


Check = Callable[[Version], bool]


def _bounds(text: str) -> tuple[Version, int, bool]:
    """TEXT as (version with wildcards as 0, how many parts are fixed, has pre-release)."""
    m = _PART.match(text.strip())
    if not m:
        raise ConstraintError(f"'{text}' is not a version")
    parts = [m.group(1), m.group(2), m.group(3)]
    fixed = 0
    for p in parts:
        if p is None or p in "*xX":
            break
        fixed += 1
    nums = [int(p) if i < fixed and p is not None else 0 for i, p in enumerate(parts)]
    pre = tuple(int(p) if p.isdigit() else p for p in m.group(4).split(".")) if m.group(4) else ()
    return Version(nums[0], nums[1], nums[2], pre), fixed, bool(pre)


def _next(v: Version, fixed: int) -> Version:
    """The first version past V's fixed parts (1.2 -> 1.3.0, 1 -> 2.0.0)."""
    if fixed <= 1:
        return Version(v.major + 1, 0, 0, (0,))
    if fixed == 2:
        return Version(v.major, v.minor + 1, 0, (0,))
    return Version(v.major, v.minor, v.patch + 1, (0,))


def _comparator(text: str) -> Check:  # noqa: C901  # one branch per constraint operator of Masterminds/semver (helm's), as its table is
    m = re.match(r"^(>=|<=|!=|=>|=<|==|>|<|=|~>|~|\^)?\s*(.+)$", text.strip())
    if not m:
        raise ConstraintError(f"'{text}' is not a constraint")
    op, rest = m.group(1) or "", m.group(2)
    v, fixed, _ = _bounds(rest)
    low = Version(v.major, v.minor, v.patch, v.pre or (0,)) if not v.pre else v
    if op in ("", "=", "=="):
        if fixed == 3:
            return lambda x: x.key() == v.key() or (not v.pre and x.key() == v.key())
        if fixed == 0:
            return lambda x: True
        return lambda x: low <= x and x < _next(v, fixed)
    if op == "!=":
        if fixed == 3:
            return lambda x: x.key() != v.key()
        return lambda x: not (low <= x and x < _next(v, fixed))
    if op == ">":
        top = v if fixed == 3 else _next(v, fixed)
        return (lambda x: top < x) if fixed == 3 else (lambda x: top <= x)
    if op in (">=", "=>"):
        return lambda x: low <= x
    if op == "<":
        return lambda x: x < low
    if op in ("<=", "=<"):
        return (lambda x: x <= v) if fixed == 3 else (lambda x: x < _next(v, fixed))
    if op in ("~", "~>"):
        return lambda x: low <= x and x < _next(v, 2 if fixed >= 2 else 1)
    # ^: the left-most non-zero part is fixed
    if v.major > 0 or fixed <= 1:
        upper = _next(v, 1)
    elif v.minor > 0 or fixed == 2:
        upper = _next(v, 2)
    else:
        upper = _next(v, 3)
    return lambda x: low <= x and x < upper


def _and_group(text: str) -> tuple[list[Check], bool]:
    text = re.sub(r"\s*-\s+", " - ", text.strip())
    hyphen = re.match(r"^(\S+)\s+-\s+(\S+)$", text)
    if hyphen:
        return [_comparator(">=" + hyphen.group(1)), _comparator("<=" + hyphen.group(2))], "-" in hyphen.group(
            1
        ).lstrip("v")[1:]
    items = [t for t in re.split(r"[\s,]+", re.sub(r"(>=|<=|!=|=>|=<|==|>|<|=|~>|~|\^)\s+", r"\1", text)) if t]
    if not items:
        raise ConstraintError("empty constraint")
    return [_comparator(i) for i in items], any("-" in re.sub(r"^[^0-9*xXv]*v?", "", i) for i in items)


@dataclass(frozen=True)
class Constraint:
    text: str
    groups: tuple[tuple[tuple[Check, ...], bool], ...]

    @classmethod
    def parse(cls, text: str) -> Constraint:
        text = (text or "*").strip() or "*"
        groups = []
        for part in text.split("||"):
            checks, pre = _and_group(part)
            groups.append((tuple(checks), pre))
        return cls(text, tuple(groups))

    def allows(self, v: Version) -> bool:
        for checks, pre in self.groups:
            if v.pre and not pre:
                continue
            if all(c(v) for c in checks):
                return True
        return False


def highest(versions: list[str], constraint: str) -> str | None:
    """The highest of VERSIONS that CONSTRAINT allows, or None."""
    allowed = Constraint.parse(constraint)
    best: tuple[Version, str] | None = None
    for text in versions:
        v = Version.parse(text)
        if v is not None and allowed.allows(v) and (best is None or best[0] < v):
            best = (v, text)
    return best[1] if best else None
