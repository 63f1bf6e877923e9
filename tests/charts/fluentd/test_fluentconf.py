"""dsgate.fluentconf: the Fluentd config parser (good and hand-written bad configs) and its structural checks."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.charts.fluentd import fluentconf
from tests.charts.fluentd.fluentconf import FluentConfError, Mount, check, mapping_loader, parse, parse_files

pytestmark = pytest.mark.unit


def conf(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


GOOD = conf(
    """
    # a comment line
    <system>
      log_level info   # trailing comment
    </system>

    <source>
      @type tail
      @id in_tail
      path /var/log/containers/*.log
      exclude_path ["/var/log/containers/a-*.log",
                    "/var/log/containers/b-*.log"]
      pos_file /var/lib/fluentd/pos/c.pos
      tag kubernetes.*
      <parse>
        @type cri
      </parse>
    </source>

    <match a.** b.**>
      @type http
      endpoint https://logs.example.com/x#frag
      headers {"X-A": "1",
               "X-B": "# not a comment"}
      quoted "tab\\tand \\"quote\\""
      single 'it\\'s C:\\\\path'
      multi "first
    second"
      flag
      <auth>
        method basic
        password "#{ENV['PASS']}"
      </auth>
      <buffer>
        @type file
        path /var/lib/fluentd/buffer/http
      </buffer>
    </match>

    <label @FLUENT_LOG>
      <match fluent.**>
        @type null
      </match>
    </label>
    """
)


def test_parses_a_complete_config_into_a_tree() -> None:
    cfg = parse(GOOD)
    assert [d.header for d in cfg.directives] == ["<system>", "<source>", "<match a.** b.**>", "<label @FLUENT_LOG>"]
    source = cfg.directives[1]
    assert source.line == 6 and source.type == "tail"
    assert source.get("exclude_path") == '["/var/log/containers/a-*.log","/var/log/containers/b-*.log"]'
    assert source.children[0].header == "<parse>" and source.children[0].type == "cri"
    match = cfg.directives[2]
    assert match.get("endpoint") == "https://logs.example.com/x#frag"  # '#' inside a word is kept
    assert match.get("headers") == '{"X-A":"1","X-B":"# not a comment"}'
    assert match.get("quoted") == 'tab\tand "quote"'
    assert match.get("single") == "it's C:\\path"
    assert match.get("multi") == "first\nsecond"
    assert match.get("flag") == ""
    auth = match.children[0]
    pw = auth.param("password")
    assert pw is not None and pw.embedded == ("ENV['PASS']",) and pw.line == 31
    assert cfg.directives[0].get("log_level") == "info"
    assert [d.header for d in cfg.find("match")] == ["<match a.** b.**>", "<match fluent.**>"]
    assert cfg.files == ["fluent.conf"]


@pytest.mark.parametrize(
    ("text", "expected_line", "expected_message"),
    [
        pytest.param("<source>\n  @type tail\n", 1, "unclosed <source>: opened on line 1", id="unclosed-block"),
        pytest.param(
            "<match **>\n  @type null\n  <buffer>\n  </buffer>\n", 1, "unclosed <match **>", id="unclosed-outer-block"
        ),
        pytest.param(
            "<source>\n  @type tail\n</source>\n</source>\n", 4, "stray </source>: no block is open", id="stray-close"
        ),
        pytest.param("</match>\n", 1, "stray </match>", id="stray-close-first-line"),
        pytest.param(
            "<source>\n  @type tail\n</match>\n",
            3,
            "mismatched </match>: the open block is <source> from line 1",
            id="mismatched-close",
        ),
        pytest.param(
            "<match **>\n  <buffer>\n  </match>\n</buffer>\n",
            3,
            "mismatched </match>: the open block is <buffer>",
            id="crossed-blocks",
        ),
        pytest.param("log_level info\n", 1, "parameter 'log_level' outside any block", id="param-at-top-level"),
        pytest.param(
            "<source>\n  @type tail\n</source>\ntag x\n", 4, "parameter 'tag' outside any block", id="param-after-block"
        ),
        pytest.param("<source>\n  @type\n</source>\n", 2, "empty @type", id="empty-type"),
        pytest.param('<source>\n  @type ""\n</source>\n', 2, "empty @type", id="empty-quoted-type"),
        pytest.param("<source>\n  @type   # nothing\n</source>\n", 2, "empty @type", id="type-only-comment"),
        pytest.param(
            '<match **>\n  @type http\n  endpoint "http://x\n</match>\n',
            3,
            "unterminated double-quoted string starting on line 3",
            id="unterminated-double-quote",
        ),
        pytest.param(
            "<match **>\n  key 'abc\n</match>\n", 2, "unterminated single-quoted string", id="unterminated-single-quote"
        ),
        pytest.param(
            '<match **>\n  key "a" trailing\n</match>\n',
            2,
            "unexpected text 'trailing' after the quoted value of 'key'",
            id="text-after-quote",
        ),
        pytest.param(
            "<match **>\n  key [1, 2\n</match>\n",
            2,
            "unterminated or invalid JSON array starting on line 2",
            id="unterminated-json-array",
        ),
        pytest.param(
            "<match **>\n  time_format [%d/%b/%Y]\n</match>\n", 2, "invalid JSON array", id="unquoted-bracket-value"
        ),
        pytest.param('<match **>\n  key "bad \\q escape"\n</match>\n', 2, "unknown escape '\\q'", id="bad-escape"),
        pytest.param(
            "<match **>\n  key \"#{ENV['A']\"\n</match>\n",
            2,
            "unterminated embedded code",
            id="unterminated-embedded-code",
        ),
        pytest.param(
            "<source\n  @type tail\n</source>\n", 1, "unterminated tag <source: expected '>'", id="tag-without-gt"
        ),
        pytest.param("<source> extra\n</source>\n", 1, "unexpected text 'extra' after <source>", id="text-after-tag"),
        pytest.param("< source>\n</source>\n", 1, "expected a directive name after '<'", id="space-before-name"),
        pytest.param("<sour-ce>\n</sour-ce>\n", 1, "malformed tag <sour-...", id="bad-directive-name"),
        pytest.param(
            "<source>\n</source extra>\n", 2, "malformed closing tag </source: expected '>'", id="bad-closing-tag"
        ),
        pytest.param("<source>\n</source> x\n", 2, "unexpected text 'x' after </source>", id="text-after-close"),
        pytest.param("@include\n", 1, "@include without a path", id="include-without-path"),
    ],
)
def test_malformed_configs_are_rejected_with_their_line(text: str, expected_line: int, expected_message: str) -> None:
    with pytest.raises(FluentConfError) as err:
        parse(text, filename="bad.conf", loader=mapping_loader({}))
    assert err.value.file == "bad.conf"
    assert err.value.line == expected_line
    assert expected_message in err.value.message
    assert str(err.value).startswith(f"bad.conf:{expected_line}: ")


def test_includes_resolve_through_the_mapping_in_order() -> None:
    files = {
        "fluent.conf": "@include sources.conf\n@include extra-*.conf\n<match **>\n  @type stdout\n  @include common.conf\n</match>\n",
        "sources.conf": "<source>\n  @type sample\n</source>\n",
        "extra-b.conf": "<filter **>\n  @type stdout\n</filter>\n",
        "extra-a.conf": "<filter **>\n  @type grep\n</filter>\n",
        "common.conf": "@id out_main\n",
    }
    cfg = parse_files(files)
    assert [d.header for d in cfg.directives] == ["<source>", "<filter **>", "<filter **>", "<match **>"]
    assert [d.type for d in cfg.directives] == ["sample", "grep", "stdout", "stdout"]
    assert cfg.directives[0].file == "sources.conf" and cfg.directives[0].line == 1
    assert cfg.directives[3].get("@id") == "out_main"  # included inside a block: params belong to it
    assert cfg.files == ["fluent.conf", "sources.conf", "extra-a.conf", "extra-b.conf", "common.conf"]


def test_absolute_include_under_the_config_dir() -> None:
    cfg = parse_files(
        {"fluent.conf": "@include /fluentd/etc/a.conf\n", "a.conf": "<source>\n  @type sample\n</source>\n"}
    )
    assert cfg.files == ["fluent.conf", "a.conf"]


@pytest.mark.parametrize(
    ("files", "expected_file", "expected_line", "expected_message"),
    [
        pytest.param(
            {"fluent.conf": "@include missing.conf\n"},
            "fluent.conf",
            1,
            "@include missing.conf: no such file",
            id="missing-include",
        ),
        pytest.param(
            {"fluent.conf": "@include a.conf\n", "a.conf": "@include fluent.conf\n"},
            "fluent.conf",
            1,
            "@include cycle: fluent.conf -> a.conf -> fluent.conf",
            id="include-cycle",
        ),
        pytest.param(
            {"fluent.conf": "@include a.conf\n", "a.conf": "<source>\n  @type tail\n"},
            "a.conf",
            1,
            "unclosed <source>",
            id="error-inside-include",
        ),
        pytest.param(
            {"fluent.conf": "@include a.conf\n", "a.conf": "tag x\n"},
            "a.conf",
            1,
            "parameter 'tag' outside any block",
            id="top-level-param-in-include",
        ),
        pytest.param({"other.conf": ""}, "fluent.conf", 0, "no fluent.conf among", id="no-main-file"),
    ],
)
def test_bad_includes(files: dict[str, str], expected_file: str, expected_line: int, expected_message: str) -> None:
    with pytest.raises(FluentConfError) as err:
        parse_files(files)
    assert (err.value.file, err.value.line) == (expected_file, expected_line)
    assert expected_message in err.value.message


def test_glob_include_matching_nothing_is_allowed() -> None:
    cfg = parse_files({"fluent.conf": "@include extra-*.conf\n<source>\n  @type sample\n</source>\n"})
    assert len(cfg.directives) == 1


def test_include_without_loader_is_an_error() -> None:
    with pytest.raises(FluentConfError, match="no loader"):
        parse("@include x.conf\n")


def test_directory_loader_reads_real_files(tmp_path: Path) -> None:
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "fluent.conf").write_text("@include conf.d/*.conf\n")
    (tmp_path / "conf.d" / "in.conf").write_text("<source>\n  @type sample\n</source>\n")
    cfg = parse((tmp_path / "fluent.conf").read_text(), loader=fluentconf.directory_loader(tmp_path))
    assert cfg.files == ["fluent.conf", "conf.d/in.conf"]


# ----------------------------------------------------------------------------- structural checks

# The mounts of a typical rendered pod.
MOUNTS = [
    Mount("/fluentd/etc", True, "configMap", "config"),
    Mount("/var/log", True, "hostPath", "varlog", "/var/log"),
    Mount("/var/lib/fluentd/pos", False, "hostPath", "positions", "/var/lib/fluentd/pos"),
    Mount("/var/lib/fluentd/buffer", False, "emptyDir", "buffer"),
    Mount("/tmp", False, "emptyDir", "tmp"),
    Mount("/fluentd/tls", True, "secret", "tls-ca"),
]
ENV = {"K8S_NODE_NAME", "PASS"}

OK_TAIL = conf(
    """
    <source>
      @type tail
      path /var/log/containers/*.log
      pos_file /var/lib/fluentd/pos/c.pos
      tag k.*
      <parse>
        @type cri
      </parse>
    </source>
    """
)


def problems(text: str, variant: str = "forward", mounts: list[Mount] | None = MOUNTS) -> list[str]:
    return [str(p) for p in check(parse(text), variant=variant, mounts=mounts, env=ENV)]


def test_a_sound_config_has_no_problems() -> None:
    assert problems(OK_TAIL + "<match **>\n  @type stdout\n</match>\n") == []


@pytest.mark.parametrize(
    ("text", "variant", "expected_problem"),
    [
        pytest.param(
            "<source>\n  tag x\n</source>\n",
            "forward",
            "fluent.conf:1: <source> has no @type",
            id="source-without-type",
        ),
        pytest.param(
            "<filter **>\n  key v\n</filter>\n",
            "forward",
            "fluent.conf:1: <filter **> has no @type",
            id="filter-without-type",
        ),
        pytest.param(
            "<match **>\n  @type stdout\n  <format>\n  </format>\n</match>\n",
            "forward",
            "fluent.conf:3: <format> has no @type",
            id="format-without-type",
        ),
        pytest.param(
            "<match **>\n  @type file\n  path /tmp/x\n  <buffer>\n    path /tmp/b\n  </buffer>\n</match>\n",
            "forward",
            "fluent.conf:4: <buffer> has no @type",
            id="buffer-without-type",
        ),
        pytest.param(
            "<source>\n  @type tail\n  path /var/log/x.log\n  pos_file /var/lib/fluentd/pos/x\n  <parse>\n  </parse>\n</source>\n",
            "forward",
            "fluent.conf:5: <parse> has no @type",
            id="parse-without-type",
        ),
        pytest.param(
            "<match **>\n  @type elasticsearch\n</match>\n",
            "forward",
            "uses @type elasticsearch, an output plugin the 'forward' image variant does not ship",
            id="es-output-on-forward-image",
        ),
        pytest.param(
            "<match **>\n  @type opensearch\n</match>\n",
            "elasticsearch8",
            "uses @type opensearch, an output plugin the 'elasticsearch8'",
            id="opensearch-on-es-image",
        ),
        pytest.param(
            "<match **>\n  @type elasticsearch\n</match>\n",
            "opensearch",
            "uses @type elasticsearch, an output plugin the 'opensearch'",
            id="es-on-opensearch-image",
        ),
        pytest.param(
            "<source>\n  @type stdout\n</source>\n",
            "forward",
            "uses @type stdout, an input plugin",
            id="output-plugin-as-source",
        ),
        pytest.param(
            "<filter **>\n  @type kubernetes_metadta\n</filter>\n",
            "forward",
            "uses @type kubernetes_metadta, a filter plugin",
            id="misspelled-filter",
        ),
        pytest.param(
            "<source>\n  @type tail\n  path /var/log/x\n  pos_file /var/lib/fluentd/pos/x\n  <parse>\n    @type crii\n  </parse>\n</source>\n",
            "forward",
            "uses @type crii, a parser plugin",
            id="misspelled-parser",
        ),
        pytest.param(
            "<match **>\n  @type stdout\n  <format>\n    @type yaml\n  </format>\n</match>\n",
            "forward",
            "uses @type yaml, a formatter plugin",
            id="unknown-formatter",
        ),
        pytest.param(
            "<match **>\n  @type file\n  path /tmp/x\n  <buffer>\n    @type redis\n  </buffer>\n</match>\n",
            "forward",
            "uses @type redis, a buffer plugin",
            id="unknown-buffer",
        ),
        pytest.param(
            "<label @X>\n  <source>\n    @type sample\n  </source>\n</label>\n",
            "forward",
            "<source> is not allowed inside <label>",
            id="source-inside-label",
        ),
        pytest.param(
            "<match **>\n  @type copy\n  <match x>\n    @type null\n  </match>\n</match>\n",
            "forward",
            "<match x> is not allowed inside <match>",
            id="nested-match",
        ),
        pytest.param(
            "<parse>\n  @type json\n</parse>\n",
            "forward",
            "<parse> is not a top-level directive",
            id="parse-at-top-level",
        ),
        pytest.param(
            "<label OUT>\n  <match **>\n    @type null\n  </match>\n</label>\n",
            "forward",
            "label name 'OUT' must start with '@'",
            id="label-without-at",
        ),
        pytest.param(
            "<match>\n  @type null\n</match>\n", "forward", "<match> without a tag pattern", id="match-without-pattern"
        ),
        pytest.param(
            "<source>\n  @type sample\n  @label @MISSING\n</source>\n",
            "forward",
            "fluent.conf:3: @label @MISSING refers to no <label @MISSING> block",
            id="dangling-label",
        ),
        pytest.param(
            "<match **>\n  @type http\n  endpoint http://x\n  <auth>\n    password hunter2\n  </auth>\n</match>\n",
            "forward",
            "password in <auth> is written inline",
            id="inline-password",
        ),
        pytest.param(
            '<match **>\n  @type forward\n  <security>\n    shared_key "abc"\n  </security>\n</match>\n',
            "forward",
            "shared_key in <security> is written inline",
            id="inline-shared-key",
        ),
        pytest.param(
            "<match **>\n  @type http\n  <auth>\n    password \"#{ENV['NOPE']}\"\n  </auth>\n</match>\n",
            "forward",
            "password reads ENV['NOPE'], which the container does not define",
            id="undefined-env",
        ),
    ],
)
def test_structural_problems(text: str, variant: str, expected_problem: str) -> None:
    found = problems(text, variant)
    assert any(expected_problem in p for p in found), found


@pytest.mark.parametrize(
    ("text", "expected_problem"),
    [
        pytest.param(
            OK_TAIL.replace("/var/log/containers/*.log", "/data/logs/*.log"),
            "<source> reads /data/logs/*.log (path), which is on no volume mounted",
            id="tail-path-unmounted",
        ),
        pytest.param(
            OK_TAIL.replace("  tag k.*", '  exclude_path ["/opt/x.log"]\n  tag k.*'),
            "reads /opt/x.log (exclude_path)",
            id="exclude-path-unmounted",
        ),
        pytest.param(
            OK_TAIL.replace("/var/lib/fluentd/pos/c.pos", "/var/log/c.pos"),
            "pos_file /var/log/c.pos in <source> is on the read-only mount /var/log",
            id="pos-file-read-only",
        ),
        pytest.param(
            OK_TAIL.replace("/var/lib/fluentd/pos/c.pos", "/tmp/c.pos"),
            "pos_file /tmp/c.pos in <source> is on an emptyDir volume (tmp); it must be on a hostPath",
            id="pos-file-on-emptydir",
        ),
        pytest.param(
            OK_TAIL.replace("/var/lib/fluentd/pos/c.pos", "/srv/c.pos"),
            "keeps its position in /srv/c.pos (pos_file), which is on no volume",
            id="pos-file-unmounted",
        ),
        pytest.param(
            OK_TAIL.replace("/var/lib/fluentd/pos/c.pos", "c.pos"),
            "pos_file 'c.pos' in <source> is relative",
            id="pos-file-relative",
        ),
        pytest.param(
            OK_TAIL.replace("/var/log/containers/*.log", "\"#{ENV['K8S_NODE_NAME']}\""),
            "is computed at run time",
            id="computed-path",
        ),
        pytest.param(
            "<match **>\n  @type stdout\n  <buffer>\n    @type file\n    path /var/log/buf\n  </buffer>\n</match>\n",
            "path /var/log/buf in <buffer> is on the read-only mount /var/log",
            id="buffer-read-only",
        ),
        pytest.param(
            "<match **>\n  @type stdout\n  <buffer>\n    @type file\n    path /buffers/x\n  </buffer>\n</match>\n",
            "<buffer> writes /buffers/x (path), which is on no volume",
            id="buffer-unmounted",
        ),
        pytest.param(
            "<match **>\n  @type file\n  path /opt/out\n</match>\n",
            "<match **> writes /opt/out (path)",
            id="file-output-unmounted",
        ),
        pytest.param(
            "<match **>\n  @type forward\n  transport tls\n  tls_cert_path /etc/ssl/ca.crt\n</match>\n",
            "reads /etc/ssl/ca.crt (tls_cert_path)",
            id="tls-ca-unmounted",
        ),
        pytest.param(
            "<source>\n  @type systemd\n  path /run/log/journal\n  <storage>\n    @type local\n    path /var/lib/fluentd/pos/j.json\n  </storage>\n</source>\n",
            "reads /run/log/journal (path)",
            id="journal-unmounted",
        ),
        pytest.param(
            "<source>\n  @type systemd\n  path /var/log/journal\n  <storage>\n    @type local\n    path /tmp/j.json\n  </storage>\n</source>\n",
            "path /tmp/j.json in <storage> is on an emptyDir volume",
            id="journal-cursor-on-emptydir",
        ),
    ],
)
def test_path_problems(text: str, expected_problem: str) -> None:
    found = problems(text)
    assert any(expected_problem in p for p in found), found


def test_writable_hostpath_outside_the_state_prefix() -> None:
    mounts = [*MOUNTS, Mount("/state", False, "hostPath", "state", "/opt/state")]
    found = problems(OK_TAIL.replace("/var/lib/fluentd/pos/c.pos", "/state/c.pos"), mounts=mounts)
    assert found == [
        "fluent.conf:4: pos_file /state/c.pos in <source> writes to the node at /opt/state, outside /var/lib/fluentd"
    ]


def test_deepest_mount_wins() -> None:
    """/var/log is read-only, but a writable mount nested inside it takes precedence."""
    mounts = [*MOUNTS, Mount("/var/log/fluentd-pos", False, "hostPath", "pos2", "/var/lib/fluentd/pos2")]
    assert problems(OK_TAIL.replace("/var/lib/fluentd/pos/c.pos", "/var/log/fluentd-pos/c.pos"), mounts=mounts) == []


def test_path_checks_are_skipped_without_mounts() -> None:
    assert problems(OK_TAIL.replace("/var/log/containers", "/elsewhere"), mounts=None) == []


def test_every_problem_of_a_config_is_reported_at_once() -> None:
    text = "<source>\n  tag x\n</source>\n<match **>\n  @type elasticsearch\n</match>\n"
    assert problems(text) == [
        "fluent.conf:1: <source> has no @type",
        "fluent.conf:4: <match **> uses @type elasticsearch, an output plugin the 'forward' image variant does not ship",
    ]


def test_unknown_variant_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown image variant 'alpine'"):
        check(parse(OK_TAIL), variant="alpine")


# ----------------------------------------------------------------------------- plugin table


@pytest.mark.parametrize(
    ("variant", "category", "plugin", "expected_shipped"),
    [
        pytest.param("forward", "output", "stdout", True, id="core-stdout-everywhere"),
        pytest.param("forward", "output", "http", True, id="core-http-everywhere"),
        pytest.param("forward", "output", "forward", True, id="core-forward"),
        pytest.param("forward", "parser", "cri", True, id="parser-cri-gem"),
        pytest.param("forward", "filter", "kubernetes_metadata", True, id="metadata-filter-gem"),
        pytest.param("forward", "filter", "concat", True, id="concat-gem"),
        pytest.param("forward", "input", "prometheus", True, id="prometheus-gem"),
        pytest.param("forward", "input", "systemd", True, id="systemd-gem"),
        pytest.param("forward", "output", "elasticsearch", False, id="forward-has-no-es"),
        pytest.param("elasticsearch8", "output", "elasticsearch", True, id="es8-has-es"),
        pytest.param("elasticsearch7", "output", "elasticsearch_data_stream", True, id="es7-has-data-stream"),
        pytest.param("elasticsearch8", "filter", "dedot", True, id="es-has-dedot"),
        pytest.param("elasticsearch8", "output", "opensearch", False, id="es8-has-no-opensearch"),
        pytest.param("opensearch", "output", "opensearch", True, id="opensearch-has-opensearch"),
        pytest.param("opensearch", "output", "elasticsearch", False, id="opensearch-has-no-es"),
        pytest.param("forward", "parser", "kubernetes", True, id="image-plugin-dir-parser"),
    ],
)
def test_plugin_table(variant: str, category: str, plugin: str, expected_shipped: bool) -> None:
    assert (plugin in fluentconf.PLUGINS[variant][category]) is expected_shipped


def test_every_variant_ships_the_core_and_common_plugins() -> None:
    base = fluentconf.PLUGINS["forward"]
    for variant, cats in fluentconf.PLUGINS.items():
        for cat, names in base.items():
            assert names <= cats[cat], f"{variant} lacks {sorted(names - cats[cat])} ({cat})"


# ----------------------------------------------------------------------------- helpers and CLI


def test_mounts_and_env_of_a_pod_spec() -> None:
    spec = {
        "containers": [
            {
                "name": "fluentd",
                "env": [
                    {"name": "A", "value": "1"},
                    {"name": "B", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
                ],
                "volumeMounts": [
                    {"name": "logs", "mountPath": "/var/log", "readOnly": True},
                    {"name": "buf", "mountPath": "/buf"},
                ],
            }
        ],
        "volumes": [
            {"name": "logs", "hostPath": {"path": "/var/log", "type": "Directory"}},
            {"name": "buf", "emptyDir": {}},
        ],
    }
    assert fluentconf.mounts_of(spec, "fluentd") == [
        Mount("/var/log", True, "hostPath", "logs", "/var/log"),
        Mount("/buf", False, "emptyDir", "buf", ""),
    ]
    assert fluentconf.env_names(spec, "fluentd") == {"A", "B"}
    with pytest.raises(KeyError, match="no container 'x'"):
        fluentconf.mounts_of(spec, "x")


@pytest.mark.parametrize(
    ("text", "args", "expected_rc", "expected_out"),
    [
        pytest.param(OK_TAIL, [], 0, "2 blocks in 1 file(s), 0 problem(s)", id="clean"),
        pytest.param("<match **>\n  @type elasticsearch\n</match>\n", [], 1, "1 problem(s)", id="problem-on-forward"),
        pytest.param(
            "<match **>\n  @type elasticsearch\n</match>\n",
            ["--variant", "elasticsearch8"],
            0,
            "0 problem(s)",
            id="fine-on-es8",
        ),
        pytest.param("<source>\n", [], 1, "", id="parse-error"),
    ],
)
def test_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, args: list[str], expected_rc: int, expected_out: str
) -> None:
    path = tmp_path / "fluent.conf"
    path.write_text(text)
    assert fluentconf.main([str(path), *args]) == expected_rc
    out, err = capsys.readouterr()
    assert expected_out in out
    if expected_rc and not expected_out:
        assert "error: fluent.conf:1: unclosed <source>" in err


# ----------------------------------------------------------------------------- property: round trip

_NAMES = st.sampled_from(["source", "match", "filter", "parse", "buffer", "format", "store", "record", "server"])
_KEY = st.sampled_from(["path", "tag", "@id", "@label", "host", "flush_interval", "key", "format1"])
_BARE = (
    st.text("abz09./*:_- #", min_size=1, max_size=16)
    .map(lambda v: v.strip().replace(" #", " x"))
    .filter(lambda v: v != "" and v[0] not in "#")
)
_ANY_TEXT = st.text(st.sampled_from(list("ab #{}[]\"'<>\n\té€")), max_size=16)


def _quote(value: str) -> str:
    out = value.replace("\\", "\\\\").replace('"', '\\"').replace("#", "\\#").replace("\n", "\\n").replace("\t", "\\t")
    return f'"{out}"'


@st.composite
def _directive(draw: st.DrawFn, depth: int = 0) -> tuple[str, str, list[tuple[str, str, bool]], list]:
    name = draw(_NAMES)
    arg = draw(st.sampled_from(["", "**", "kubernetes.**", "a.** b.**"]))
    params = draw(
        st.lists(
            st.tuples(_KEY, st.one_of(_BARE.map(lambda v: (v, False)), _ANY_TEXT.map(lambda v: (v, True)))), max_size=4
        )
    )
    children = draw(st.lists(_directive(depth + 1), max_size=2)) if depth < 2 else []
    return name, arg, [(k, v, q) for k, (v, q) in params], children


def _dump(d: tuple, indent: int = 0) -> str:
    name, arg, params, children = d
    pad = "  " * indent
    lines = [f"{pad}<{name}{' ' + arg if arg else ''}>"]
    lines += [f"{pad}  {k} {_quote(v) if q else v}" for k, v, q in params]
    lines += [_dump(c, indent + 1) for c in children]
    lines.append(f"{pad}</{name}>")
    return "\n".join(lines)


def _shape(d: fluentconf.Directive) -> tuple:
    return d.name, d.arg, [(p.key, p.value) for p in d.params], [_shape(c) for c in d.children]


@settings(max_examples=60, deadline=None)
@given(st.lists(_directive(), min_size=1, max_size=3))
def test_dump_then_parse_round_trips(tree: list[tuple]) -> None:
    """Any tree of blocks and parameters, written out in Fluentd syntax, parses back to the same tree."""
    text = "\n".join(_dump(d) for d in tree) + "\n"
    parsed = parse(text)
    assert [_shape(d) for d in parsed.directives] == [
        (n, a, [(k, v) for k, v, _ in p], [_shape_raw(c) for c in ch]) for n, a, p, ch in tree
    ]


def _shape_raw(d: tuple) -> tuple:
    name, arg, params, children = d
    return name, arg, [(k, v) for k, v, _ in params], [_shape_raw(c) for c in children]
