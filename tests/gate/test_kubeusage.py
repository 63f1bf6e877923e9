"""Render once for every target Kubernetes version when nothing can read the version (issue 26):
capabilityreads finds what can read .Capabilities, kubeusage adds the charts' kubeVersion
constraints, and the render stage shares one render between the jobs that render alike. Every
shared output must equal the render of its own version: the tests render each version again."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from dsgate.gate import stages
from dsgate.gate.capabilityreads import reads_capabilities, reads_capabilities_cached
from dsgate.gate.kubeusage import ChartUsage, satisfies
from dsgate.gate.sourcekinds import ChartSource
from dsgate.gate.sources import RenderContext
from tests.support import CHARTS, KUBE_TARGETS

FIXTURES = Path(__file__).parent / "data" / "kubeusage"


@pytest.mark.unit
@pytest.mark.parametrize(
    ("template", "expected_reads"),
    [
        # no action at all
        pytest.param("a: b\n", False, id="no-action"),
        # fields of the top-level object only
        pytest.param("{{ .Values.a }} {{ $.Release.Name }} {{ toYaml .Values }}", False, id="fields"),
        # HelmVersion does not follow the Kubernetes version
        pytest.param("{{ .Capabilities.HelmVersion.Version }}", False, id="helm-version"),
        # the version itself
        pytest.param('{{ if semverCompare ">=1.30" .Capabilities.KubeVersion.Version }}x{{ end }}', True, id="kube"),
        # the API versions follow it too
        pytest.param('{{ if .Capabilities.APIVersions.Has "policy/v1" }}x{{ end }}', True, id="api-versions"),
        # named in a string, looked up dynamically
        pytest.param('{{ index . "Capabilities" }}', True, id="index-by-name"),
        # a comment that names it is not a read
        pytest.param("{{/* .Capabilities.KubeVersion */}}", False, id="comment"),
        # subcharts' top-level objects hold their own
        pytest.param("{{ toYaml .Subcharts.dep }}", True, id="subcharts"),
        # the whole top-level object dumped, printed, iterated or rebound
        pytest.param("{{ toYaml $ }}", True, id="dump-dollar"),
        pytest.param("{{ . }}", True, id="print-dot"),
        pytest.param("{{ range $k, $v := $ }}{{ $k }}{{ end }}", True, id="range-root"),
        pytest.param("{{ with $ }}{{ .Values.a }}{{ end }}", True, id="with-root"),
        # handed to a named template that only reads fields: not a read
        pytest.param('{{ define "n" }}{{ .Release.Name }}{{ end }}{{ include "n" . }}', False, id="include-fields"),
        # handed to a named template that dumps its argument: a read
        pytest.param('{{ define "n" }}{{ toYaml . }}{{ end }}{{ include "n" $ }}', True, id="include-dumps"),
        # a named template that dumps its argument, given a value: not a read
        pytest.param('{{ define "n" }}{{ toYaml . }}{{ end }}{{ include "n" .Values.a }}', False, id="dumps-a-value"),
        # inside a dict: the dict key stands for the top-level object, other keys do not
        pytest.param(
            '{{ define "n" }}{{ .id }}{{ toYaml .root.Values }}{{ end }}{{ include "n" (dict "root" . "id" "x") }}',
            False,
            id="dict-fields",
        ),
        pytest.param(
            '{{ define "n" }}{{ toYaml .root }}{{ end }}{{ include "n" (dict "root" .) }}', True, id="dict-dump"
        ),
        # through a variable
        pytest.param(
            '{{ define "n" }}{{ $r := .root }}{{ toYaml $r }}{{ end }}{{ include "n" (dict "root" $) }}',
            True,
            id="dict-variable-dump",
        ),
        # transitively, through a second named template
        pytest.param(
            '{{ define "a" }}{{ include "b" . }}{{ end }}{{ define "b" }}{{ . }}{{ end }}{{ include "a" . }}',
            True,
            id="transitive",
        ),
        # a printf name reaches every template it matches; one of them dumps its argument
        pytest.param(
            '{{ define "c.x" }}{{ .Values.a }}{{ end }}{{ define "c.y" }}{{ toJson . }}{{ end }}'
            '{{ include (printf "c.%s" .Values.which) . }}',
            True,
            id="printf-name",
        ),
        # `.` rebound by with/range is not the top-level object; their else branch sees it again
        pytest.param("{{ with .Values.a }}{{ toYaml . }}{{ end }}", False, id="with-rebinds"),
        pytest.param("{{ with .Values.a }}{{ toYaml . }}{{ else }}{{ toYaml . }}{{ end }}", True, id="else-outer"),
        # tpl renders a value with the top-level object: the value files are scanned too
        pytest.param("{{ tpl (toYaml .Values.x) $ }}", False, id="tpl-context"),
        # what the model does not cover counts as a read
        pytest.param('{{ block "b" . }}x{{ end }}', True, id="block"),
        pytest.param('{{ define "n" }}x', True, id="unterminated-define"),
    ],
)
def test_reads_capabilities(template: str, expected_reads: bool) -> None:
    assert reads_capabilities([template.encode()]) is expected_reads


@pytest.mark.parametrize(
    ("texts", "expected_reads"),
    [
        ([b"{{ .Capabilities.KubeVersion.Version }}"], True),
        ([b'{{ define "x" }}{{ .Values.a }}{{ end }}', b'{{ include "x" . }}'], False),
    ],
)
def test_cached_answer_is_the_analysis(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, texts: list[bytes], expected_reads: bool
) -> None:
    """Built, then read from dsgate's cache, then built again over a cached file of another shape."""
    monkeypatch.setenv("DSGATE_CACHE", str(tmp_path))
    answers = [reads_capabilities_cached(texts) for _ in range(2)]
    (cached,) = (tmp_path / "capability-reads").iterdir()
    cached.write_text('"yes"')
    answers.append(reads_capabilities_cached(texts))
    assert answers == [expected_reads] * 3 == [reads_capabilities(texts)] * 3


@pytest.mark.unit
@pytest.mark.parametrize(
    ("constraint", "version", "expected"),
    [
        # helm's usual lower bound, with a pre-release so that pre-releases pass
        pytest.param(">=1.33.0-0", "1.33.0", True, id="lower-bound"),
        pytest.param(">=1.34.0-0", "1.33.0", False, id="below"),
        # a range, and alternatives
        pytest.param(">= 1.30.0, < 1.35.0", "1.35.0", False, id="range-upper"),
        pytest.param("<1.30.0 || >=1.36.0", "1.36.0", True, id="alternative"),
    ],
)
def test_satisfies(constraint: str, version: str, expected: bool) -> None:
    assert satisfies(constraint, version) is expected


@pytest.mark.unit
@pytest.mark.parametrize(
    "constraint",
    [
        pytest.param("~1.33.0", id="tilde"),  # semver ranges beyond comparisons are not modelled
        pytest.param("=1.33", id="partial-equal"),
        pytest.param(">=1.x", id="wildcard"),
    ],
)
def test_unreadable_constraint_renders_per_version(tmp_path: Path, constraint: str) -> None:
    (tmp_path / "Chart.yaml").write_text(f"apiVersion: v2\nname: c\nversion: 0.1.0\nkubeVersion: '{constraint}'\n")
    assert not ChartUsage([tmp_path]).renders_alike("1.36.0")


def _render(sources: list[ChartSource], helms: tuple[str, ...] = ("v4",)) -> list[stages.RenderOutcome]:
    for source in sources:
        source.prepare()  # file:// dependencies packaged, as the gate does first
    jobs = stages.plan(sources, helms, KUBE_TARGETS)
    with ThreadPoolExecutor(max_workers=2) as pool:
        return stages.render(jobs, pool, RenderContext(), stages.Tracker(len(jobs), None))


def _assert_each_equals_its_own_render(outcomes: list[stages.RenderOutcome]) -> None:
    for outcome in outcomes:
        own = stages.run_job(outcome.job)
        assert (outcome.text, outcome.error) == (own.text, own.error), outcome.job


@pytest.mark.render
@pytest.mark.parametrize(
    ("chart", "expected_renders", "expected_outputs"),
    [
        # reads nothing of the version: one render for the four versions
        pytest.param("plain", 1, 1, id="plain"),
        # .Capabilities.KubeVersion: one render per version (two outputs: old before 1.35, new after)
        pytest.param("capabilities", len(KUBE_TARGETS), 2, id="capabilities"),
        # reaches .Capabilities by iterating the top-level object, without naming it
        pytest.param("root-range", len(KUBE_TARGETS), len(KUBE_TARGETS), id="root-range"),
        # the same through a dict handed to a named template
        pytest.param("root-in-dict", len(KUBE_TARGETS), len(KUBE_TARGETS), id="root-in-dict"),
        # kubeVersion >=1.34: the refused version renders (and fails) alone, the others once
        pytest.param("refuses-old", 2, 1, id="refuses-old"),
    ],
)
def test_renders_once_per_scenario_unless_the_version_is_read(
    chart: str, expected_renders: int, expected_outputs: int
) -> None:
    outcomes = _render([ChartSource(FIXTURES / chart)])
    assert len(outcomes) == len(KUBE_TARGETS)  # every job has its outcome
    assert len({id(o.documents) for o in outcomes}) == expected_renders  # shared renders share their documents
    assert len({o.text for o in outcomes if not o.error}) == expected_outputs
    _assert_each_equals_its_own_render(outcomes)


@pytest.mark.render
def test_repository_charts_render_alike_across_versions() -> None:
    """This repository's charts read nothing of the version: their default scenario renders once per
    helm major, and that render equals each version's own."""
    sources = [ChartSource(CHARTS / name) for name in ("node-exporter", "fluentd")]
    outcomes = [o for o in _render(sources, ("v4", "v3")) if o.job.scenario == "default"]
    assert len({id(o.documents) for o in outcomes}) == 4  # 2 charts x 2 helm majors
    _assert_each_equals_its_own_render(outcomes)


@pytest.mark.render
def test_jobs_that_differ_in_values_only_render_apart() -> None:
    """Job equality ignores VALUES (set directly, as the matrix does): two such jobs still render
    apart, at one Kubernetes version (nothing to share) and at several (the render key has the values)."""
    source = ChartSource(FIXTURES / "plain")
    for versions in ((KUBE_TARGETS[-1],), KUBE_TARGETS[-2:]):
        jobs = [
            stages.Job(source, "default", (), "v4", kube, values={"data": {"which": which}})
            for which in ("a", "b")
            for kube in versions
        ]
        with ThreadPoolExecutor(max_workers=2) as pool:
            outcomes = stages.render(jobs, pool, RenderContext(), stages.Tracker(len(jobs), None))
        assert len({o.text for o in outcomes}) == 2, versions
        _assert_each_equals_its_own_render(outcomes)


@pytest.mark.unit
def test_a_directory_that_cannot_be_listed_renders_per_version(tmp_path: Path) -> None:
    """A dependency directory that is not there (or cannot be listed) is not silently skipped."""
    assert ChartUsage([FIXTURES / "plain"]).renders_alike("1.36.0")
    assert not ChartUsage([FIXTURES / "plain", tmp_path / "missing-dependency"]).renders_alike("1.36.0")
