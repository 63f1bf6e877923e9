"""A parser and structural checker for Fluentd configuration files (the v1 syntax).

A real Fluentd cannot run here, so the charts' rendered `fluent.conf` is checked by reading it the
way Fluentd's own v1 parser does, then checking what a broken config would only reveal at start-up.

Syntax understood (and rejected when malformed, always with the file and line):

- directives `<source>`, `<filter PATTERN>`, `<match PATTERN>`, `<label @NAME>`, `<system>`, `<worker N>`
  and nested sections (`<parse>`, `<buffer>`, `<format>`, `<store>`, `<server>`, `<security>`, ...);
  the argument is everything up to `>` (so `<match a.** b.**>` works) or a quoted string;
- `key value` parameters; the value runs to the end of the line, and a `#` preceded by white space
  starts a comment (a `#` inside a word, as in `a#b`, does not);
- double-quoted values (escapes `\\" \\\\ \\n \\t \\r \\f \\b`, embedded `#{...}` Ruby kept verbatim and
  recorded), single-quoted values (`\\'` and `\\\\` only), both may span lines;
- JSON array and hash values (`[...]`, `{...}`), which may span lines until the JSON is complete;
- `@include PATH` (a glob, relative to the including file) anywhere, resolved through a loader, so a
  ConfigMap's keys can stand in for the files;
- `#` comments and blank lines.

Malformed input raises `FluentConfError`: an unclosed block, a stray or mismatched `</x>`, a parameter
outside any block at top level (Fluentd silently ignores those; here they are an error), an empty
`@type`, an unterminated quote or JSON value, text after a closing `>`, an include that matches no file
(Fluentd silently includes nothing for a literal path) and include cycles.

`check()` then runs the structural checks of a config against the pod that runs it: every plugin
section has a `@type`, every `@type` is a plugin the chosen image variant ships (`PLUGINS`, the one
table of it), directives sit where Fluentd accepts them, `@label` references exist, every path the
config reads is under a volume mount of the container, writes go to writable mounts, position files
(`pos_file`, `<storage>` paths) are on a writable hostPath, `#{ENV[...]}` references name variables
the container defines, and credentials are not written inline.
"""

from __future__ import annotations

import fnmatch
import json
import posixpath
import re
import sys
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class FluentConfError(ValueError):
    """Malformed Fluentd configuration; the message starts with `file:line:`."""

    def __init__(self, message: str, *, file: str, line: int) -> None:
        self.message = message
        self.file = file
        self.line = line
        super().__init__(f"{file}:{line}: {message}")


# ----------------------------------------------------------------------------- the tree


@dataclass
class Param:
    """One `key value` line."""

    key: str
    value: str
    file: str
    line: int
    quoted: bool = False  # the value was a quoted string
    embedded: tuple[str, ...] = ()  # Ruby code of each `#{...}` in a double-quoted value


@dataclass
class Directive:
    """One `<name arg> ... </name>` block."""

    name: str
    arg: str
    file: str
    line: int
    params: list[Param] = field(default_factory=list)
    children: list[Directive] = field(default_factory=list)

    def param(self, key: str) -> Param | None:
        """The parameter KEY; when repeated the last one wins, as in Fluentd."""
        found = None
        for p in self.params:
            if p.key == key:
                found = p
        return found

    def get(self, key: str, default: str | None = None) -> str | None:
        p = self.param(key)
        return p.value if p is not None else default

    @property
    def type(self) -> str | None:
        """The `@type` value, or None when the block has none."""
        return self.get("@type")

    @property
    def header(self) -> str:
        """The opening tag as written, e.g. `<match kubernetes.**>`."""
        return f"<{self.name} {self.arg}>" if self.arg else f"<{self.name}>"


@dataclass
class Config:
    """A parsed configuration: the top-level directives and the files that were read."""

    directives: list[Directive]
    files: list[str]

    def walk(self) -> Iterator[tuple[Directive, tuple[Directive, ...]]]:
        """Every directive, depth first, with its ancestors (outermost first)."""

        def rec(d: Directive, ancestors: tuple[Directive, ...]) -> Iterator[tuple[Directive, tuple[Directive, ...]]]:
            yield d, ancestors
            for child in d.children:
                yield from rec(child, (*ancestors, d))

        for top in self.directives:
            yield from rec(top, ())

    def find(self, name: str) -> list[Directive]:
        """Every directive called NAME, at any depth."""
        return [d for d, _ in self.walk() if d.name == name]


# ----------------------------------------------------------------------------- includes

# A loader resolves an @include: (pattern, including file) -> [(file name, text)], sorted.
Loader = Callable[[str, str], list[tuple[str, str]]]

_GLOB_CHARS = re.compile(r"[*?\[]")


def mapping_loader(files: Mapping[str, str], base_dir: str = "/fluentd/etc") -> Loader:
    """A loader over in-memory files (e.g. a ConfigMap's data mounted at BASE_DIR).

    A relative pattern, or an absolute one under BASE_DIR, is matched against the keys.
    """

    def load(pattern: str, including: str) -> list[tuple[str, str]]:
        rel = pattern
        if pattern.startswith("/"):
            prefix = base_dir.rstrip("/") + "/"
            if not pattern.startswith(prefix):
                return []
            rel = pattern[len(prefix) :]
        rel = posixpath.normpath(posixpath.join(posixpath.dirname(including), rel))
        return [(name, files[name]) for name in sorted(files) if fnmatch.fnmatchcase(name, rel)]

    return load


def directory_loader(root: Path) -> Loader:
    """A loader over real files; relative patterns resolve against the including file's directory."""

    def load(pattern: str, including: str) -> list[tuple[str, str]]:
        base = (root / including).parent
        full = Path(pattern) if pattern.startswith("/") else base / pattern
        if _GLOB_CHARS.search(str(full)):
            anchor = Path(full.anchor or ".")
            matches = (
                sorted(anchor.glob(str(full.relative_to(anchor)))) if full.is_absolute() else sorted(base.glob(pattern))
            )
        else:
            matches = [full] if full.is_file() else []
        out = []
        for m in matches:
            try:
                name = str(m.relative_to(root))
            except ValueError:
                name = str(m)
            out.append((name, m.read_text()))
        return out

    return load


# ----------------------------------------------------------------------------- parsing

_NAME = re.compile(r"[A-Za-z0-9_]+")
_ESCAPES = {'"': '"', "'": "'", "\\": "\\", "n": "\n", "t": "\t", "r": "\r", "f": "\f", "b": "\b"}


class _Source:
    """Scanner over one file's text with line tracking."""

    def __init__(self, text: str, name: str) -> None:
        self.text = text.replace("\r\n", "\n")
        self.name = name
        self.pos = 0

    @property
    def line(self) -> int:
        return self.text.count("\n", 0, self.pos) + 1

    def eof(self) -> bool:
        return self.pos >= len(self.text)

    def peek(self, n: int = 1) -> str:
        return self.text[self.pos : self.pos + n]

    def error(self, message: str, line: int | None = None) -> FluentConfError:
        return FluentConfError(message, file=self.name, line=line if line is not None else self.line)

    def skip_blank(self) -> None:
        """Skip white space, newlines and whole-line or trailing comments."""
        while not self.eof():
            ch = self.text[self.pos]
            if ch in " \t\n":
                self.pos += 1
            elif ch == "#":
                self._to_eol()
            else:
                return

    def skip_inline_space(self) -> None:
        while not self.eof() and self.text[self.pos] in " \t":
            self.pos += 1

    def _to_eol(self) -> None:
        nl = self.text.find("\n", self.pos)
        self.pos = len(self.text) if nl < 0 else nl

    def expect_line_end(self, what: str) -> None:
        """Only spaces or a comment may follow WHAT on its line."""
        self.skip_inline_space()
        if self.eof() or self.peek() == "\n":
            return
        if self.peek() == "#":
            self._to_eol()
            return
        rest = self.text[self.pos : self.text.find("\n", self.pos) if "\n" in self.text[self.pos :] else len(self.text)]
        raise self.error(f"unexpected text {rest.strip()!r} after {what}")

    def word(self) -> str:
        """A run of non-space characters (a parameter key)."""
        start = self.pos
        while not self.eof() and self.text[self.pos] not in " \t\n":
            self.pos += 1
        return self.text[start : self.pos]


class _Parser:
    def __init__(self, loader: Loader | None) -> None:
        self.loader = loader
        self.files: list[str] = []
        self.stack: list[str] = []  # include chain, for cycle detection

    def parse_file(self, text: str, name: str, into: Directive, root: bool) -> None:
        """Parse one file into INTO; ROOT says INTO is the top level (no parameters allowed)."""
        if name in self.stack:
            chain = " -> ".join([*self.stack, name])
            raise FluentConfError(f"@include cycle: {chain}", file=name, line=1)
        self.stack.append(name)
        self.files.append(name)
        try:
            self.body(_Source(text, name), into, closes=False, params_ok=not root, open_line=0)
        finally:
            self.stack.pop()

    def body(self, src: _Source, current: Directive, *, closes: bool, params_ok: bool, open_line: int) -> None:
        """Parse the contents of CURRENT up to its closing tag (CLOSES) or to the end of the file.

        A file's own top level ends at EOF; PARAMS_OK is false only at the configuration's top level.
        """
        while True:
            src.skip_blank()
            if src.eof():
                if not closes:
                    return
                raise src.error(
                    f"unclosed {current.header}: opened on line {open_line} and never closed (expected </{current.name}> before end of file)",
                    line=open_line,
                )
            line = src.line
            if src.peek(2) == "</":
                src.pos += 2
                src.skip_inline_space()
                m = _NAME.match(src.text, src.pos)
                name = m.group(0) if m else ""
                src.pos = m.end() if m else src.pos
                src.skip_inline_space()
                if src.peek() != ">":
                    raise src.error(f"malformed closing tag </{name}: expected '>'")
                src.pos += 1
                src.expect_line_end(f"</{name}>")
                if not closes:
                    raise src.error(f"stray </{name}>: no block is open here", line=line)
                if name != current.name:
                    raise src.error(
                        f"mismatched </{name}>: the open block is {current.header} from line {open_line} (close it with </{current.name}>)",
                        line=line,
                    )
                return
            if src.peek() == "<":
                self.directive(src, current, line)
                continue
            key = src.word()
            if key in ("@include", "include"):
                src.skip_inline_space()
                start = src.pos
                src._to_eol()
                target = src.text[start : src.pos].split(" #")[0].strip()
                if not target:
                    raise src.error("@include without a path", line=line)
                self.include(target, src.name, line, current, root=not params_ok)
                continue
            if not params_ok:
                raise src.error(
                    f"parameter {key!r} outside any block: top-level lines must be directives such as <source> or <match>",
                    line=line,
                )
            current.params.append(self.param(src, key, line))

    def directive(self, src: _Source, parent: Directive, line: int) -> None:
        src.pos += 1  # '<'
        m = _NAME.match(src.text, src.pos)
        if not m:
            bad = src.peek(10).split("\n")[0]
            raise src.error(f"expected a directive name after '<', got {bad!r}", line=line)
        name = m.group(0)
        src.pos = m.end()
        if src.eof() or src.peek() == "\n":
            raise src.error(f"unterminated tag <{name}: expected '>' on the same line", line=line)
        if src.peek() not in (" ", "\t", ">"):
            raise src.error(
                f"malformed tag <{name}{src.peek()}...: a directive name is letters, digits and '_'", line=line
            )
        src.skip_inline_space()
        if src.peek() in ('"', "'"):
            quote = src.peek()
            src.pos += 1
            arg, _ = self.quoted(src, quote, line)
            src.skip_inline_space()
        else:
            end = src.pos
            while end < len(src.text) and src.text[end] not in ">\n":
                end += 1
            arg = src.text[src.pos : end].strip()
            src.pos = end
        if src.peek() != ">":
            raise src.error(f"unterminated tag <{name}: expected '>' on the same line", line=line)
        src.pos += 1
        src.expect_line_end(f"<{name}{' ' + arg if arg else ''}>")
        child = Directive(name=name, arg=arg, file=src.name, line=line)
        parent.children.append(child)
        self.body(src, child, closes=True, params_ok=True, open_line=line)

    def include(self, target: str, including: str, line: int, into: Directive, root: bool) -> None:
        if self.loader is None:
            raise FluentConfError(f"@include {target}: no loader to resolve includes", file=including, line=line)
        found = self.loader(target, including)
        if not found and not _GLOB_CHARS.search(target):
            raise FluentConfError(f"@include {target}: no such file", file=including, line=line)
        for name, text in found:
            # An included file's top level is the including block's body: a param there belongs to it.
            self.parse_file(text, name, into, root=root)

    def param(self, src: _Source, key: str, line: int) -> Param:
        src.skip_inline_space()
        if src.eof() or src.peek() == "\n" or src.peek() == "#":
            value, quoted, embedded = "", False, ()
            src.expect_line_end(key)
        elif src.peek() in ('"', "'"):
            quote = src.peek()
            src.pos += 1
            value, embedded = self.quoted(src, quote, line)
            quoted = True
            src.expect_line_end(f"the quoted value of {key!r}")
        elif src.peek() in ("[", "{"):
            value = self.json_value(src, line)
            quoted, embedded = False, ()
            src.expect_line_end(f"the JSON value of {key!r}")
        else:
            start = src.pos
            src._to_eol()
            raw = src.text[start : src.pos]
            # A '#' starts a comment only after white space (Fluentd keeps `a#b` whole).
            cut = re.search(r"[ \t]#", raw)
            value = (raw[: cut.start()] if cut else raw).rstrip()
            quoted, embedded = False, ()
        if key == "@type" and not value.strip():
            raise src.error("empty @type: name the plugin, e.g. '@type tail'", line=line)
        return Param(key=key, value=value, file=src.name, line=line, quoted=quoted, embedded=tuple(embedded))

    def quoted(self, src: _Source, quote: str, line: int) -> tuple[str, list[str]]:
        out: list[str] = []
        embedded: list[str] = []
        while True:
            if src.eof():
                kind = "double" if quote == '"' else "single"
                raise src.error(f"unterminated {kind}-quoted string starting on line {line}", line=line)
            ch = src.text[src.pos]
            if ch == quote:
                src.pos += 1
                return "".join(out), embedded
            if ch == "\\":
                nxt = src.text[src.pos + 1 : src.pos + 2]
                if quote == "'":
                    if nxt in ("'", "\\"):
                        out.append(nxt)
                        src.pos += 2
                    else:
                        out.append(ch)
                        src.pos += 1
                    continue
                if nxt in _ESCAPES:
                    out.append(_ESCAPES[nxt])
                elif nxt.isalnum():
                    raise src.error(f"unknown escape '\\{nxt}' in a double-quoted string")
                else:
                    out.append(nxt)
                src.pos += 2
                continue
            if quote == '"' and src.peek(2) == "#{":
                code = self.embedded_code(src)
                embedded.append(code)
                out.append("#{" + code + "}")
                continue
            out.append(ch)
            src.pos += 1

    def embedded_code(self, src: _Source) -> str:
        """Read `#{ ... }` (Ruby) up to its matching brace; quotes inside are honoured."""
        line = src.line
        src.pos += 2
        start = src.pos
        depth = 1
        while not src.eof():
            ch = src.text[src.pos]
            if ch in ("'", '"'):
                end = src.text.find(ch, src.pos + 1)
                if end < 0:
                    break
                src.pos = end + 1
                continue
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
                if depth == 0:
                    code = src.text[start : src.pos]
                    src.pos += 1
                    return code
            src.pos += 1
        raise src.error("unterminated embedded code '#{...}'", line=line)

    def json_value(self, src: _Source, line: int) -> str:
        """A JSON array or hash, possibly over several lines; returned compact, like Fluentd."""
        start = src.pos
        closer = "]" if src.peek() == "[" else "}"
        pos = start
        while True:
            end = src.text.find(closer, pos + 1)
            if end < 0:
                kind = "array" if closer == "]" else "hash"
                raise src.error(f"unterminated or invalid JSON {kind} starting on line {line}", line=line)
            try:
                value = json.loads(src.text[start : end + 1])
            except json.JSONDecodeError:
                pos = end
                continue
            src.pos = end + 1
            return json.dumps(value, separators=(",", ":"))


def parse(text: str, *, filename: str = "fluent.conf", loader: Loader | None = None) -> Config:
    """Parse TEXT (the main file, named FILENAME); @include is resolved through LOADER."""
    p = _Parser(loader)
    root = Directive(name="ROOT", arg="", file=filename, line=0)
    p.parse_file(text, filename, root, root=True)
    return Config(directives=root.children, files=p.files)


def parse_files(files: Mapping[str, str], main: str = "fluent.conf", base_dir: str = "/fluentd/etc") -> Config:
    """Parse MAIN out of FILES (e.g. ConfigMap data mounted at BASE_DIR), resolving includes among them."""
    if main not in files:
        raise FluentConfError(f"no {main} among {sorted(files)}", file=main, line=0)
    return parse(files[main], filename=main, loader=mapping_loader(files, base_dir))


# ----------------------------------------------------------------------------- the plugin table

# The ONE table of which plugins each image variant ships, per plugin category.
#
# Source: the Gemfiles of fluent/fluentd-kubernetes-daemonset under docker-image/v1.19/debian-<variant>/
# (image tags v1.19.x-debian-<variant>-1.x), plus the plugins built into Fluentd 1.19 itself
# (lib/fluent/plugin/{in,out,filter,parser,formatter,buf,storage,sd}_*.rb) and the two parser files the
# image copies into /fluentd/plugins (parser_kubernetes.rb, parser_multiline_kubernetes.rb).
# When the chart moves to a new image line, update this table from that line's Gemfiles.

_CORE: dict[str, frozenset[str]] = {
    "input": frozenset(
        {
            "debug_agent",
            "dummy",
            "exec",
            "forward",
            "gc_stat",
            "http",
            "monitor_agent",
            "object_space",
            "sample",
            "syslog",
            "tail",
            "tcp",
            "udp",
            "unix",
        }
    ),
    "output": frozenset(
        {
            "buffer",
            "copy",
            "exec",
            "exec_filter",
            "file",
            "forward",
            "http",
            "null",
            "relabel",
            "roundrobin",
            "secondary_file",
            "stdout",
        }
    ),
    "filter": frozenset({"grep", "parser", "record_transformer", "stdout"}),
    "parser": frozenset(
        {
            "apache",
            "apache2",
            "apache_error",
            "csv",
            "json",
            "ltsv",
            "msgpack",
            "multiline",
            "nginx",
            "none",
            "regexp",
            "syslog",
            "tsv",
        }
    ),
    "formatter": frozenset({"csv", "hash", "json", "ltsv", "msgpack", "out_file", "single_value", "stdout", "tsv"}),
    "buffer": frozenset({"file", "file_single", "memory"}),
    "storage": frozenset({"local"}),
    "service_discovery": frozenset({"file", "srv", "static"}),
}

# Gems every variant installs (fluent-plugin-<gem>): what each adds, per category.
_COMMON_GEMS: dict[str, dict[str, frozenset[str]]] = {
    "multi-format-parser": {"parser": frozenset({"multi_format"})},
    "concat": {"filter": frozenset({"concat"})},
    "grok-parser": {"parser": frozenset({"grok", "multiline_grok"})},
    "prometheus": {
        "input": frozenset(
            {"prometheus", "prometheus_monitor", "prometheus_output_monitor", "prometheus_tail_monitor"}
        ),
        "filter": frozenset({"prometheus"}),
        "output": frozenset({"prometheus"}),
    },
    "json-in-json-2": {"parser": frozenset({"json_in_json"})},
    "record-modifier": {"filter": frozenset({"record_modifier"}), "output": frozenset({"record_modifier"})},
    "detect-exceptions": {"output": frozenset({"detect_exceptions"})},
    "rewrite-tag-filter": {"output": frozenset({"rewrite_tag_filter"})},
    "parser-cri": {"parser": frozenset({"cri"})},
    "kubernetes_metadata_filter": {"filter": frozenset({"kubernetes_metadata"})},
    "systemd": {"input": frozenset({"systemd"}), "filter": frozenset({"systemd_entry"})},
    "(image /fluentd/plugins)": {"parser": frozenset({"kubernetes", "multiline_kubernetes"})},
}

_ELASTICSEARCH = {
    "elasticsearch": {
        "output": frozenset({"elasticsearch", "elasticsearch_dynamic", "elasticsearch_data_stream"}),
        "filter": frozenset({"elasticsearch_genid"}),
    },
    "dedot_filter": {"filter": frozenset({"dedot"})},
}

# Extra gems per variant (the image tag's `<variant>` part).
_VARIANT_GEMS: dict[str, dict[str, dict[str, frozenset[str]]]] = {
    "forward": {},
    "elasticsearch7": _ELASTICSEARCH,
    "elasticsearch8": _ELASTICSEARCH,
    "opensearch": {
        "opensearch": {
            "output": frozenset({"opensearch", "opensearch_data_stream"}),
            "filter": frozenset({"opensearch_genid"}),
        }
    },
}


def _build_plugins() -> dict[str, dict[str, frozenset[str]]]:
    table: dict[str, dict[str, frozenset[str]]] = {}
    for variant, extra in _VARIANT_GEMS.items():
        cats: dict[str, set[str]] = {cat: set(names) for cat, names in _CORE.items()}
        for gem in (*_COMMON_GEMS.values(), *extra.values()):
            for cat, names in gem.items():
                cats[cat] |= names
        table[variant] = {cat: frozenset(names) for cat, names in cats.items()}
    return table


#: variant -> plugin category -> plugin names the image ships.
PLUGINS: dict[str, dict[str, frozenset[str]]] = _build_plugins()
VARIANTS: tuple[str, ...] = tuple(PLUGINS)

# Which plugin category a section's @type names.
CATEGORY_OF_SECTION: dict[str, str] = {
    "source": "input",
    "filter": "filter",
    "match": "output",
    "store": "output",
    "secondary": "output",
    "parse": "parser",
    "format": "formatter",
    "buffer": "buffer",
    "storage": "storage",
    "service_discovery": "service_discovery",
}

# Sections that must carry an @type (Fluentd would fall back to a default for some; we do not).
TYPED_SECTIONS = frozenset({"source", "filter", "match", "store", "parse", "buffer", "format"})

# Where each top-level-only directive may sit: name -> allowed parent names ("ROOT" = top level).
_PLACEMENT: dict[str, frozenset[str]] = {
    "source": frozenset({"ROOT", "worker"}),
    "match": frozenset({"ROOT", "label", "worker"}),
    "filter": frozenset({"ROOT", "label", "worker"}),
    "label": frozenset({"ROOT", "worker"}),
    "system": frozenset({"ROOT"}),
    "worker": frozenset({"ROOT"}),
}

# Parameters that name files the plugin reads (any section).
_READ_PATH_PARAMS = frozenset(
    {
        "tls_cert_path",
        "tls_ca_cert_path",
        "tls_client_cert_path",
        "tls_client_private_key_path",
        "tls_private_key_path",
        "ca_file",
        "ca_path",
        "client_cert",
        "client_key",
        "cert_path",
        "private_key_path",
    }
)

# Parameters that hold credentials: their value must come from the environment, never inline.
SECRET_PARAMS = frozenset(
    {"password", "shared_key", "api_key", "token", "bearer_token", "client_secret", "aws_sec_key", "secret_access_key"}
)

_ENV_REF = re.compile(
    r"""^\s*ENV\s*(?:\[\s*(['"])(?P<a>[A-Za-z_][A-Za-z0-9_]*)\1\s*\]|\.fetch\(\s*(['"])(?P<b>[A-Za-z_][A-Za-z0-9_]*)\3.*\))\s*$"""
)


# ----------------------------------------------------------------------------- mounts


@dataclass(frozen=True)
class Mount:
    """A volume mount of the container that runs Fluentd."""

    path: str  # mountPath
    read_only: bool
    kind: str  # volume source: hostPath, emptyDir, configMap, secret, projected, ...
    volume: str
    host_path: str = ""  # for hostPath volumes


def mounts_of(pod_spec: Mapping[str, Any], container: str) -> list[Mount]:
    """The volume mounts of CONTAINER in POD_SPEC, joined with their volumes."""
    volumes = {v["name"]: v for v in pod_spec.get("volumes") or []}
    for c in pod_spec.get("containers") or []:
        if c.get("name") == container:
            break
    else:
        raise KeyError(f"no container {container!r} in the pod spec")
    out = []
    for vm in c.get("volumeMounts") or []:
        vol = volumes.get(vm["name"], {})
        kind = next((k for k in vol if k != "name"), "missing")
        host = (vol.get("hostPath") or {}).get("path", "") if kind == "hostPath" else ""
        out.append(
            Mount(
                path=vm["mountPath"],
                read_only=bool(vm.get("readOnly", False)),
                kind=kind,
                volume=vm["name"],
                host_path=host,
            )
        )
    return out


def env_names(pod_spec: Mapping[str, Any], container: str) -> set[str]:
    """Names of the environment variables CONTAINER defines (explicit `env` entries)."""
    for c in pod_spec.get("containers") or []:
        if c.get("name") == container:
            return {e["name"] for e in c.get("env") or []}
    raise KeyError(f"no container {container!r} in the pod spec")


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def _under(path: str, root: str) -> bool:
    root = root.rstrip("/") or "/"
    return root == "/" or path == root or path.startswith(root + "/")


def mount_for(path: str, mounts: Sequence[Mount]) -> Mount | None:
    """The mount a path lives on: the deepest mountPath containing it."""
    best = None
    for m in mounts:
        if _under(path, m.path) and (best is None or len(m.path) > len(best.path)):
            best = m
    return best


def _static_prefix(path: str) -> str:
    """The part of a glob / strftime path before its first wildcard, cut back to a directory."""
    cut = re.search(r"[*?\[{%]", path)
    if not cut:
        return path
    return posixpath.dirname(path[: cut.start()]) or "/"


# ----------------------------------------------------------------------------- checks


@dataclass(frozen=True)
class Problem:
    """One structural problem, located in the config."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


def check(  # noqa: C901  # one branch per structural rule of a Fluentd config, each a message of its own
    config: Config,
    *,
    variant: str,
    mounts: Sequence[Mount] | None = None,
    env: Collection[str] | None = None,
    state_host_prefix: str = "/var/lib/fluentd",
) -> list[Problem]:
    """Structural checks of CONFIG for the image VARIANT, against the container's MOUNTS and ENV.

    With MOUNTS None the path checks are skipped; with ENV None the `#{ENV[...]}` checks are.
    STATE_HOST_PREFIX is where on the node writable hostPaths (positions, buffers) may live.
    """
    if variant not in PLUGINS:
        raise ValueError(f"unknown image variant {variant!r}; known: {', '.join(VARIANTS)}")
    plugins = PLUGINS[variant]
    problems: list[Problem] = []

    def add(obj: Directive | Param, message: str) -> None:
        problems.append(Problem(obj.file, obj.line, message))

    labels = {d.arg for d in config.directives if d.name == "label"}
    for d, ancestors in config.walk():
        parent = ancestors[-1].name if ancestors else "ROOT"
        allowed = _PLACEMENT.get(d.name)
        if allowed is not None and parent not in allowed:
            where = "at the top level" if parent == "ROOT" else f"inside <{parent}>"
            add(d, f"{d.header} is not allowed {where}; it belongs in: {', '.join(sorted(allowed))}")
        elif allowed is None and parent == "ROOT":
            add(d, f"{d.header} is not a top-level directive; it belongs inside a plugin section")
        if d.name == "label" and not d.arg.startswith("@"):
            add(d, f"label name {d.arg!r} must start with '@' (e.g. <label @OUTPUT>)")
        if d.name in ("match", "filter") and not d.arg:
            add(d, f"<{d.name}> without a tag pattern; write the pattern explicitly (e.g. <{d.name} **>)")
        ptype = d.type
        if d.name in TYPED_SECTIONS and ptype is None:
            add(d, f"{d.header} has no @type")
        category = CATEGORY_OF_SECTION.get(d.name)
        if category and ptype is not None and ptype not in plugins[category]:
            add(
                d,
                f"{d.header} uses @type {ptype}, {_article(category)} {category} plugin the {variant!r} image variant does not ship",
            )
        label_ref = d.get("@label")
        if label_ref is not None and label_ref not in labels:
            add(d.param("@label") or d, f"@label {label_ref} refers to no <label {label_ref}> block")
        for p in d.params:
            problems.extend(_check_param(d, p, env))
        if mounts is not None:
            problems.extend(_check_paths(d, mounts, state_host_prefix))
    return problems


def _check_param(d: Directive, p: Param, env: Collection[str] | None) -> list[Problem]:
    out = []
    refs = []
    for code in p.embedded:
        m = _ENV_REF.match(code)
        if m:
            refs.append(m.group("a") or m.group("b"))
    if env is not None:
        for name in refs:
            if name not in env:
                out.append(Problem(p.file, p.line, f"{p.key} reads ENV[{name!r}], which the container does not define"))
    if p.key in SECRET_PARAMS and p.value and not refs:
        out.append(
            Problem(
                p.file,
                p.line,
                f"{p.key} in {d.header} is written inline; take it from a Secret via an env variable: {p.key} \"#{{ENV['NAME']}}\"",
            )
        )
    return out


def _check_paths(d: Directive, mounts: Sequence[Mount], state_prefix: str) -> list[Problem]:
    reads: list[Param] = []
    writes: list[Param] = []
    states: list[Param] = []
    ptype = d.type
    if d.name == "source" and ptype == "tail":
        reads += [p for p in d.params if p.key in ("path", "exclude_path")]
        states += [p for p in d.params if p.key == "pos_file"]
    elif d.name == "source" and ptype == "systemd":
        reads += [p for p in d.params if p.key == "path"]
    elif d.name == "buffer" or (d.name in ("match", "store", "secondary") and ptype in ("file", "secondary_file")):
        writes += [p for p in d.params if p.key == "path"]
    elif d.name == "storage":
        states += [p for p in d.params if p.key == "path"]
    reads += [p for p in d.params if p.key in _READ_PATH_PARAMS]

    out: list[Problem] = []
    for p in reads:
        for path in _paths_of(p):
            out += _locate(d, p, path, mounts, "reads")
    for p in writes:
        for path in _paths_of(p):
            found = _locate(d, p, path, mounts, "writes")
            out += found or _writable(d, p, path, mounts, state_prefix, must_be_host=False)
    for p in states:
        for path in _paths_of(p):
            found = _locate(d, p, path, mounts, "keeps its position in")
            out += found or _writable(d, p, path, mounts, state_prefix, must_be_host=True)
    return out


def _paths_of(p: Param) -> list[str]:
    if p.value.startswith("["):
        try:
            items = json.loads(p.value)
        except json.JSONDecodeError:
            return [p.value]
        return [str(i) for i in items]
    if p.key in ("path",) and "," in p.value:
        return [s.strip() for s in p.value.split(",") if s.strip()]
    return [p.value] if p.value else []


def _locate(d: Directive, p: Param, path: str, mounts: Sequence[Mount], verb: str) -> list[Problem]:
    if "#{" in path:
        return [
            Problem(
                p.file,
                p.line,
                f"{p.key} {path!r} in {d.header} is computed at run time; the mount check cannot verify it",
            )
        ]
    if not path.startswith("/"):
        return [
            Problem(
                p.file, p.line, f"{p.key} {path!r} in {d.header} is relative; use an absolute path on a mounted volume"
            )
        ]
    if mount_for(_static_prefix(path), mounts) is None:
        return [
            Problem(
                p.file, p.line, f"{d.header} {verb} {path} ({p.key}), which is on no volume mounted in the container"
            )
        ]
    return []


def _writable(
    d: Directive, p: Param, path: str, mounts: Sequence[Mount], state_prefix: str, *, must_be_host: bool
) -> list[Problem]:
    m = mount_for(_static_prefix(path), mounts)
    assert m is not None  # _locate passed
    out = []
    if m.read_only:
        out.append(
            Problem(
                p.file, p.line, f"{p.key} {path} in {d.header} is on the read-only mount {m.path} (volume {m.volume})"
            )
        )
    if must_be_host and m.kind != "hostPath":
        out.append(
            Problem(
                p.file,
                p.line,
                f"{p.key} {path} in {d.header} is on {_article(m.kind)} {m.kind} volume ({m.volume}); it must be on a hostPath so a replaced pod resumes where the old one stopped",
            )
        )
    if m.kind == "hostPath" and not m.read_only and not _under(m.host_path, state_prefix):
        out.append(
            Problem(
                p.file,
                p.line,
                f"{p.key} {path} in {d.header} writes to the node at {m.host_path}, outside {state_prefix}",
            )
        )
    return out


# ----------------------------------------------------------------------------- CLI


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m dsgate.fluentconf FILE [--variant V]`: parse a config (and its includes), check plugins."""
    import argparse

    ap = argparse.ArgumentParser(prog="python -m dsgate.fluentconf", description=main.__doc__)
    ap.add_argument("file", type=Path)
    ap.add_argument("--variant", default="forward", choices=VARIANTS)
    args = ap.parse_args(argv)
    try:
        config = parse(args.file.read_text(), filename=args.file.name, loader=directory_loader(args.file.parent))
    except (FluentConfError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    problems = check(config, variant=args.variant)
    for prob in problems:
        print(prob, file=sys.stderr)
    blocks = sum(1 for _ in config.walk())
    print(f"{args.file}: {blocks} blocks in {len(config.files)} file(s), {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
