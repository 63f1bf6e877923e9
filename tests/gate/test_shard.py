"""`dsgate check --shard I/N` and `dsgate report merge` (gate/shard.py, gate/merge.py).

Real gate runs, no mocks: every shard is `dsgate check --shard I/N --format json` in its own process;
the merged report, in every format `check` writes, must equal the unsharded run's byte for byte (the
reports hold no timings), with the same exit code. Sources: a fixture tree of plain files (a host-port
clash between two sources that lands in different shards, a schema error, denies), and this
repository's own sources (charts rendered by helm v4 and v3, kustomize, the server check).
"""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest

from dsgate import config, plugins, yamlc
from dsgate.cli import build_parser
from dsgate.gate import merge, report
from dsgate.gate import pipeline as gate
from dsgate.gate.shard import Shard, owner, select
from tests.support import NEWEST_KUBE, REPO, dsgate_check

pytestmark = pytest.mark.policy


def _daemonset(name: str, port: int, extra: str = "") -> str:
    """A minimal DaemonSet binding host port PORT (EXTRA: more lines under the port)."""
    return f"""apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: {name}
  namespace: monitoring
spec:
  selector:
    matchLabels: {{app.kubernetes.io/name: {name}}}
  template:
    metadata:
      labels: {{app.kubernetes.io/name: {name}}}
    spec:
      nodeSelector: {{kubernetes.io/os: linux}}
      containers:
      - name: agent
        image: quay.io/example/{name}:v1.0.0
        ports:
        - containerPort: {port}
          hostPort: {port}{extra}
"""


# Shards by sha256("files:NAME") mod N + 1 (N = 2, 3, 6): a.yaml 1, 2, 5; b.yaml 2, 2, 2; c.yaml 1, 1, 1;
# e.yaml 1, 2, 5; f.yaml 2, 3, 6 (test_fixture_split checks these).
FILES = {
    "a.yaml": _daemonset("exporter-a", 9100),  # a, b and f bind 9100: every split puts some of them apart
    "b.yaml": _daemonset("exporter-b", 9100),
    "f.yaml": _daemonset("exporter-f", 9100),  # with b in shard 2 of 2: that shard sees only b <-> f
    "c.yaml": _daemonset("logger", 24224),
    "e.yaml": _daemonset("broken", 9200, "\n          protocol: 7"),  # a schema error
}
FIXTURE_ARGS = ("--no-config", "--no-server-check", "--kube-version", NEWEST_KUBE, *FILES)
# This repository as `make gate` checks it (dsgate.yaml: 3 sources, helm v4 + v3), without the deploy stage.
REPO_ARGS = ("--no-deploy",)
REPO_FAST_ARGS = ("--no-deploy", "--no-server-check", "--kube-version", NEWEST_KUBE, "--helm", "v4")


def _write_tree(root: Path) -> Path:
    for name, text in FILES.items():
        (root / name).write_text(text)
    return root


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    return _write_tree(tmp_path)


def _unsharded(args: tuple[str, ...], cwd: Path) -> tuple[dict[str, str], int]:
    """The whole run, in-process as `dsgate check ARGS` runs it, in every format; and its exit code."""
    options = config.check_options(build_parser().parse_args(["check", *args]))
    result = gate.run(config.with_releases(plugins.discover(options.paths, options), options.releases), options)
    out = {}
    for fmt in report.FORMATS:
        buffer = io.StringIO()
        report.render_report(result, fmt, buffer, options.strict, root=cwd)
        out[fmt] = buffer.getvalue()
    return out, result.exit_code(options.strict)


def _shard_argv(index: int, count: int) -> list[str]:
    """What a matrix job adds to `dsgate check` (README's shard-matrix example, test_readme_example)."""
    return ["--shard", f"{index}/{count}", "--format", "json", "-o", f"shard-{index}.json"]


def _shards(args: tuple[str, ...], count: int, cwd: Path) -> list[Path]:
    paths = []
    for index in range(1, count + 1):
        path = cwd / f"shard-{index}-of-{count}.json"
        argv = _shard_argv(index, count)
        proc = dsgate_check(*args, *argv[:-1], path, cwd=cwd)
        assert proc.returncode in (0, 1), proc.stderr
        paths.append(path)
    return paths


def _merged(paths: list[Path], cwd: Path) -> dict[str, str]:
    result, strict = merge.merge([(p, merge.read(p)) for p in paths], root=cwd)
    out = {}
    for fmt in report.FORMATS:
        buffer = io.StringIO()
        report.render_report(result, fmt, buffer, strict, root=cwd)
        out[fmt] = buffer.getvalue()
    return out


def _merge_cli(*args: str | Path, cwd: Path) -> tuple[int, str, str]:
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "dsgate.cli", "report", "merge", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=False,
        timeout=120,
    )
    return proc.returncode, proc.stdout, proc.stderr


@pytest.mark.parametrize(
    ("count", "expected_shards"),
    [
        pytest.param(1, [1, 1, 1, 1, 1], id="one-shard"),  # one shard holds everything
        pytest.param(2, [1, 2, 2, 1, 1], id="two"),  # a apart from b and f
        pytest.param(3, [2, 2, 3, 1, 2], id="three"),  # f apart from a and b
        pytest.param(6, [5, 2, 6, 1, 5], id="six"),  # a, b, f each in its own shard; shards 3 and 4 hold none
    ],
)
def test_fixture_split(tree: Path, monkeypatch: pytest.MonkeyPatch, count: int, expected_shards: list[int]) -> None:
    """The split the merge tests rely on: a function of each file's name alone."""
    monkeypatch.chdir(tree)
    sources = plugins.discover([tree / name for name in FILES])
    assert [owner(s, count, tree) for s in sources] == expected_shards
    assert [s.path.name for s in sources] == list(FILES)


@pytest.mark.parametrize(
    ("count", "expected_exit"),
    [
        pytest.param(1, 1, id="one-shard"),  # one shard holds everything
        pytest.param(2, 1, id="two"),  # shard 2 finds b <-> f only; the merge finds a <-> b <-> f, as the whole run
        pytest.param(3, 1, id="three"),
        pytest.param(6, 1, id="more-shards-than-sources"),  # two shards hold no source
    ],
)
def test_merged_fixture_equals_unsharded(
    tree: Path, monkeypatch: pytest.MonkeyPatch, count: int, expected_exit: int
) -> None:
    monkeypatch.chdir(tree)
    whole, exit_code = _unsharded(FIXTURE_ARGS, tree)
    assert exit_code == expected_exit
    assert "DS-HST-006" in whole["json"]  # the cross-source clash is part of what must survive sharding
    paths = _shards(FIXTURE_ARGS, count, tree)
    assert _merged(paths, tree) == whole
    code, stdout, _ = _merge_cli(*paths, "--format", "json", cwd=tree)
    assert (code, stdout) == (exit_code, whole["json"])


@pytest.mark.server
@pytest.mark.render
@pytest.mark.parametrize(
    ("args", "count"),
    [
        pytest.param(
            REPO_ARGS, 2, id="repo-server-check-two"
        ),  # helm v4 + v3, 4 kube versions, the server check's counts added up
        pytest.param(REPO_FAST_ARGS, 4, id="repo-more-shards-than-sources"),  # 3 sources in 4 shards
    ],
)
def test_merged_repo_equals_unsharded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...], count: int
) -> None:
    monkeypatch.chdir(REPO)
    whole, exit_code = _unsharded(args, REPO)
    assert exit_code == 0
    out = tmp_path / "shards"
    out.mkdir()
    paths = [shutil.move(p, out / p.name) for p in _shards(args, count, REPO)]
    assert _merged([Path(p) for p in paths], REPO) == whole


def test_split_is_stable_and_complete(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every source in exactly one shard, the same split whatever order discovery gave, and a new
    source moves no other."""
    monkeypatch.chdir(tree)
    sources = plugins.discover([tree / name for name in FILES])
    (tree / "z.yaml").write_text(_daemonset("another", 9300))
    more = plugins.discover([tree / name for name in (*FILES, "z.yaml")])
    for count in (1, 2, 3, 5):
        parts = [select(sources, Shard(i, count), tree) for i in range(1, count + 1)]
        assert sorted(str(s.path) for part in parts for s in part) == sorted(str(s.path) for s in sources)
        assert parts == [select(list(reversed(sources)), Shard(i, count), tree)[::-1] for i in range(1, count + 1)]
        assert [
            [s for s in select(more, Shard(i, count), tree) if s.path.name != "z.yaml"] for i in range(1, count + 1)
        ] == parts


def test_empty_shard_passes_with_one_line(tree: Path) -> None:
    """Shard 3 of 6 holds no source: exit 0, and stderr says why (the other shards gate them)."""
    proc = dsgate_check(*FIXTURE_ARGS, "--shard", "3/6", "--format", "json", "-o", tree / "empty.json", cwd=tree)
    assert proc.returncode == 0, proc.stderr
    assert "dsgate: shard 3/6 holds none of the 5 sources (the other shards gate them)" in proc.stderr.splitlines()
    record = json.loads((tree / "empty.json").read_text())["shard"]
    assert (record["index"], record["count"], record["sources"]) == (3, 6, [])


@pytest.mark.parametrize(
    ("shard", "expected_message"),
    [
        pytest.param("0/2", "--shard 0/2: give I/N with 1 <= I <= N", id="zero"),  # shards count from 1
        pytest.param("3/2", "--shard 3/2: give I/N with 1 <= I <= N", id="past-the-end"),
        pytest.param("1/0", "--shard 1/0: give I/N with 1 <= I <= N", id="no-shards"),
        pytest.param("two", "--shard two: give I/N with 1 <= I <= N", id="not-a-fraction"),
    ],
)
def test_bad_shard_exits_2(tree: Path, shard: str, expected_message: str) -> None:
    proc = dsgate_check(*FIXTURE_ARGS, "--shard", shard, cwd=tree)
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1
    assert expected_message in proc.stderr


@pytest.fixture(scope="module")
def shards_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fixture tree with its two shards' reports (made once: the refusals only read them)."""
    root = _write_tree(tmp_path_factory.mktemp("shards"))
    _shards(FIXTURE_ARGS, 2, root)
    return root


@pytest.mark.parametrize(
    ("case", "expected_message"),
    [
        pytest.param("missing", "shard 2/2 missing", id="missing"),  # only the first shard
        pytest.param("twice", "shard 1/2 given twice", id="duplicate-file"),  # the same report twice
        pytest.param("copy", "shard 1/2 given twice", id="duplicate-copy"),  # a copy of shard 1 instead of shard 2
        pytest.param("foreign", "is a shard of another run", id="other-run"),  # shard 2 of a run with other options
        pytest.param("malformed", "not JSON", id="malformed"),  # a truncated report
        pytest.param("plain", "not a shard report", id="unsharded-report"),  # a report without --shard
    ],
)
def test_merge_refuses(shards_tree: Path, tmp_path: Path, case: str, expected_message: str) -> None:
    tree = tmp_path
    first, second = shards_tree / "shard-1-of-2.json", shards_tree / "shard-2-of-2.json"
    if case == "missing":
        given = [first]
    elif case == "twice":
        given = [first, first]
    elif case == "copy":
        shutil.copy(first, tree / "copy.json")
        given = [first, tree / "copy.json"]
    elif case == "foreign":
        other = tree / "other.json"
        proc = dsgate_check(
            *FIXTURE_ARGS, "--strict", "--shard", "2/2", "--format", "json", "-o", other, cwd=shards_tree
        )
        assert proc.returncode == 1, proc.stderr
        given = [first, other]
    elif case == "malformed":
        (tree / "cut.json").write_text(second.read_text()[:100])
        given = [first, tree / "cut.json"]
    else:
        doc = json.loads(second.read_text())
        del doc["shard"]
        (tree / "plain.json").write_text(json.dumps(doc))
        given = [first, tree / "plain.json"]
    code, stdout, stderr = _merge_cli(*given, cwd=shards_tree)
    assert (code, stdout) == (2, "")
    assert len(stderr.strip().splitlines()) == 1
    assert expected_message in stderr


def test_shard_refuses_baseline(tree: Path) -> None:
    """A baseline needs every finding of the run: one line, exit 2."""
    proc = dsgate_check(*FIXTURE_ARGS, "--shard", "1/2", "--write-baseline", tree / "baseline.yaml", cwd=tree)
    assert proc.returncode == 2
    assert "--shard with --baseline" in proc.stderr


def test_readme_example() -> None:
    """README's GitHub Actions matrix runs the commands these tests run: each job `dsgate check
    --no-deploy` (REPO_ARGS) plus _shard_argv, the merge job `dsgate report merge` on every shard's file."""
    import shlex

    text = (REPO / "README.md").read_text()
    block = text.split("<!-- example: shard-matrix -->\n```yaml\n", 1)[1].split("```", 1)[0]
    jobs = yamlc.safe_load(block)["jobs"]
    shards = jobs["shard"]["strategy"]["matrix"]["shard"]
    count = len(shards)
    (check,) = [s["run"] for s in jobs["shard"]["steps"] if "run" in s]
    (merged,) = [s["run"] for s in jobs["merge"]["steps"] if "run" in s]
    for index in shards:
        argv = shlex.split(check.replace("${{ matrix.shard }}", str(index)))
        assert argv == ["dsgate", "check", *REPO_ARGS, *_shard_argv(index, count)]
    argv = shlex.split(merged)
    assert argv[:3] == ["dsgate", "report", "merge"]
    assert argv[3 : 3 + count] == [_shard_argv(i, count)[-1] for i in range(1, count + 1)]
    assert argv[3 + count :] == ["--format", "sarif", "-o", "dsgate.sarif"]
