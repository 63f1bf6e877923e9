"""Chart version constraints: the highest version present that a constraint allows."""

from __future__ import annotations

import pytest

from dsgate.gitops.semver import ConstraintError, highest

pytestmark = pytest.mark.unit

PRESENT = ["0.3.1", "0.4.0", "1.0.0", "1.1.5", "1.2.0", "1.3.0-rc.1", "2.0.0", "v2.1.0"]


@pytest.mark.parametrize(
    ("constraint", "expected_version"),
    [
        ("*", "v2.1.0"),
        ("", "v2.1.0"),
        ("1.2.0", "1.2.0"),
        ("=1.1.5", "1.1.5"),
        (">=1.0.0 <2.0.0", "1.2.0"),  # the pre-release 1.3.0-rc.1 is not picked by a release constraint
        (">=1.0.0, <2.0.0", "1.2.0"),
        (">= 1.0.0 < 2.0.0", "1.2.0"),
        ("1.x", "1.2.0"),
        ("1.1.*", "1.1.5"),
        ("~1.1", "1.1.5"),
        ("~1.2.0", "1.2.0"),
        ("~1.1.0", "1.1.5"),
        ("~1", "1.2.0"),
        ("^1.1", "1.2.0"),
        ("^0.3", "0.3.1"),
        (">=1.3.0-rc.0 <2.0.0", "1.3.0-rc.1"),
        ("1.0.0 - 1.1.9", "1.1.5"),
        ("<1.0.0 || >=2.0.0 <2.1.0", "2.0.0"),
        ("!=2.1.0", "2.0.0"),
        ("<=1.1.5", "1.1.5"),
        (">2.0.0", "v2.1.0"),
        ("3.x", None),
    ],
)
def test_highest(constraint: str, expected_version: str | None) -> None:
    assert highest(PRESENT, constraint) == expected_version


def test_bad_constraint() -> None:
    with pytest.raises(ConstraintError):
        highest(PRESENT, ">=banana")
