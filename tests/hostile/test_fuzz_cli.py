"""Fuzzing `dsgate check` with what a hostile pull request could contain: arbitrary bytes, YAML-shaped
garbage, truncated real manifests and charts with random text inserted in a template.

For every input the gate answers 0, 1 or 2, prints no traceback on either stream, prints each error
line once (one line per distinct cause) and finishes within its limits. The CLI runs in this process
(`cli.main`), so an escaping exception fails the test with its own traceback.

`make test` draws the same examples every run (DSGATE_PROPERTY_RANDOM unset: derandomized, as
tests/properties); `make fuzz` draws fresh ones (DSGATE_FUZZ_EXAMPLES=N sets how many).
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dsgate import cli
from tests.gate.test_cli import BAD
from tests.hostile.support import MINIMAL_DS

pytestmark = [pytest.mark.hostile, pytest.mark.render]

EXAMPLES = int(os.environ.get("DSGATE_FUZZ_EXAMPLES", "4"))
FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=os.environ.get("DSGATE_PROPERTY_RANDOM", "") != "1",
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
WALL_LIMIT = 120.0  # seconds: far above a clean run (~2 s), far below what an unbounded render takes
REAL_MANIFESTS = [BAD.read_text(), MINIMAL_DS]
CHART_TEMPLATE = MINIMAL_DS.replace("name: agent,", "name: {{ .Release.Name }},").replace(
    '"registry.example/agent:1.0"', "{{ .Values.image | quote }}"
)


@contextlib.contextmanager
def _workdir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="dsgate-fuzz-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _check(target: Path) -> None:
    """Run dsgate check on TARGET in this process and assert the contract."""
    out, err = io.StringIO(), io.StringIO()
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    start = time.monotonic()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = cli.main(["check", "--no-config", "--kube-version", "1.36.0", "--no-progress", str(target)])
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    elapsed = time.monotonic() - start
    text = out.getvalue() + err.getvalue()
    assert code in (0, 1, 2), text
    assert "Traceback" not in text, text
    errors = [line for line in text.splitlines() if line.startswith(("error: ", "dsgate: error: "))]
    assert len(errors) == len(set(errors)), f"an error line repeated:\n{text}"
    assert elapsed < WALL_LIMIT, f"took {elapsed:.0f}s"


def _file(directory: Path, data: bytes) -> Path:
    (directory / "in").mkdir()
    (directory / "in" / "input.yaml").write_bytes(data)
    return directory / "in"


yaml_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20))
yaml_values = st.recursive(
    yaml_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)
yaml_garbage = st.builds(
    lambda docs, junk, at: (lambda text: text[:at] + junk + text[at:])(yaml.safe_dump_all(docs)),
    st.lists(
        yaml_values
        | st.fixed_dictionaries(
            {
                "apiVersion": st.sampled_from(["v1", "apps/v1"]),
                "kind": st.sampled_from(["DaemonSet", "ConfigMap", "List"]),
            },
            optional={"metadata": yaml_values, "spec": yaml_values},
        ),
        min_size=1,
        max_size=3,
    ),
    st.text(alphabet=st.sampled_from([*":-[]{}&*!|>'\"%@`#,? \n\t", "a", "0"]), max_size=12),
    st.integers(min_value=0, max_value=400),
)


@FUZZ_SETTINGS
@given(data=st.binary(max_size=2048))
def test_arbitrary_bytes(data: bytes) -> None:
    with _workdir() as tmp:
        _check(_file(tmp, data))


@FUZZ_SETTINGS
@given(text=yaml_garbage)
def test_yaml_shaped_garbage(text: str) -> None:
    with _workdir() as tmp:
        _check(_file(tmp, text.encode()))


@FUZZ_SETTINGS
@given(manifest=st.sampled_from(REAL_MANIFESTS), fraction=st.floats(min_value=0.0, max_value=1.0))
def test_truncated_real_manifest(manifest: str, fraction: float) -> None:
    data = manifest.encode()
    with _workdir() as tmp:
        _check(_file(tmp, data[: int(len(data) * fraction)]))


@FUZZ_SETTINGS
@given(insert=st.text(max_size=30), at=st.integers(min_value=0, max_value=len(CHART_TEMPLATE)))
def test_mutated_chart(insert: str, at: int) -> None:
    with _workdir() as tmp:
        chart = tmp / "chart"
        (chart / "templates").mkdir(parents=True)
        (chart / "Chart.yaml").write_text("apiVersion: v2\nname: fuzz\nversion: 0.1.0\n")
        (chart / "values.yaml").write_text('image: "registry.example/agent:1.0"\n')
        (chart / "templates" / "ds.yaml").write_text(CHART_TEMPLATE[:at] + insert + CHART_TEMPLATE[at:])
        _check(chart)
