"""procs.go_server_env: the Go collector's target the Go servers dsgate starts run with."""

from __future__ import annotations

import pytest

from dsgate import procs


@pytest.mark.parametrize(
    ("env", "expected_gogc", "expected_memlimit"),
    [
        pytest.param({}, procs.GO_SERVER_GC_PERCENT, None, id="unset-gets-the-servers-target"),
        pytest.param({"GOGC": "50"}, "50", None, id="the-users-gogc-wins"),
        pytest.param({"GOGC": "off", "GOMEMLIMIT": "1GiB"}, "off", "1GiB", id="the-users-off-and-limit-win"),
        pytest.param({"GOMEMLIMIT": "512MiB"}, procs.GO_SERVER_GC_PERCENT, "512MiB", id="a-limit-still-bounds-it"),
    ],
)
def test_go_server_env(env: dict[str, str], expected_gogc: str, expected_memlimit: str | None) -> None:
    got = procs.go_server_env({"PATH": "/usr/bin", **env})
    assert got["GOGC"] == expected_gogc
    assert got.get("GOMEMLIMIT") == expected_memlimit
    assert got["PATH"] == "/usr/bin"


def test_default_is_this_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DSGATE_TEST_MARKER", "here")
    monkeypatch.delenv("GOGC", raising=False)
    got = procs.go_server_env()
    assert (got["DSGATE_TEST_MARKER"], got["GOGC"]) == ("here", procs.GO_SERVER_GC_PERCENT)
