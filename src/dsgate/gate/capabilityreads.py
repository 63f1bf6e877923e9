"""Whether a chart's templates can read `.Capabilities` (which follows `helm template --kube-version`),
found from the template text alone, conservatively: kubeusage renders a chart once for every target
Kubernetes version only when this says no (issue 26).

A template reads it when an action (`{{ ... }}`, comments removed):

- names `Capabilities` anywhere (`.Capabilities.KubeVersion`, `$.Capabilities`, `index . "Capabilities"`),
  except `.Capabilities.HelmVersion`, which does not follow the Kubernetes version, or names
  `Subcharts` (their top-level objects hold theirs);
- or uses the top-level object (which holds .Capabilities) other than through one of its fields
  (`.Values`, `$.Release`; a field it does not have is empty): dumps, searches, prints or iterates
  it (`toYaml $`, `get . $key`, `{{ . }}`, `range $k, $v := $`, `with $`).

Passing it on is not a use: `include "x" .`, `template "x" $`, `tpl S $`, or inside a dict or list
given to include (`include "x" (dict "root" . "id" "a")`). The named template it reaches is then
analysed with its argument (or that dict key) standing for the top-level object, transitively;
a variable assigned from it (`$root := .root`) stands for it too. A template name that is not a
string literal (`include (printf "conf.%s" $x) .`) reaches every template its pattern matches
(any, when it is not a printf of a literal). A `.` rebound by `with` or `range` is not the
top-level object (their `else` branch sees the outer one). Any construct outside this model
makes the chart count as reading it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from dsgate import jsoncache
from dsgate.errors import DsgateError

_ACTION = re.compile(rb"\{\{(.*?)\}\}", re.S)
_COMMENT = re.compile(rb"/\*.*?\*/", re.S)
_CAPABILITY = re.compile(rb"Capabilities(\s*\.\s*HelmVersion\b)?|Subcharts")  # Subcharts: their top-level objects
_STRING = re.compile(rb'"(?:\\.|[^"\\])*"|`[^`]*`')


def _blank(text: bytes) -> bytes:
    """TEXT with the inside of every string literal blanked, keeping its length (spans stay valid)."""
    return _STRING.sub(lambda m: m.group(0)[:1] + b"_" * (len(m.group(0)) - 2) + m.group(0)[-1:], text)


_DEFINE = re.compile(rb'^(?:define|block)\s+"((?:\\.|[^"\\])*)"')
_BUILTIN = rb"(?:Values|Release|Chart|Files|Template)\b"
_NOT_AFTER = rb"(?<![\w.)\]$])"  # a term starts here (not .a.b, not $x.y, not (x).y)
_ALL = b"*"  # every field of a template's argument may be the top-level object


def _term(expression: bytes) -> re.Pattern[bytes]:
    return re.compile(_NOT_AFTER + expression + rb"(?![\w.])")


_DOT = _term(rb"\.")
_DOLLAR = _term(rb"\$")
_FIELD = _term(rb"\$?\.(?!" + _BUILTIN + rb")([A-Za-z_]\w*)")  # .root or $.root, not .Values
_CALL = re.compile(rb"\b(include|template|tpl)\s+")
_TARGET = re.compile(rb"\s*:?=(?!=)")
_ASSIGN = re.compile(rb"^\s*(\$\w+)\s*:?=\s*$")  # the whole action is `$x := <term>`


@dataclass
class _Action:
    body: bytes  # comments removed
    code: bytes  # and string literals blanked to ""
    rebound: bool  # inside with/range: `.` is not the template's argument


@dataclass
class _Segment:
    """The actions of one named template (NAME) or of a file outside every define (NAME None: `.` and `$` are the top-level object)."""

    name: bytes | None
    actions: list[_Action] = field(default_factory=list)


class _Unsure(DsgateError):
    """A construct outside the model: count the chart as reading .Capabilities."""


def segments(text: bytes) -> Iterator[_Segment]:
    """TEXT's actions, split into its named templates and the rest; _Unsure when an action names Capabilities."""
    top = _Segment(None)
    current = top
    blocks: list[bool] = []  # per open block: whether `.` is rebound in it
    for match in _ACTION.finditer(text):
        body = _COMMENT.sub(b"", match.group(1)).strip(b"- \t\r\n")
        if any(m.group(1) is None for m in _CAPABILITY.finditer(body)):
            raise _Unsure("names Capabilities")
        code = _blank(body)
        word = _first_word(code)
        if word == b"end":
            if blocks:
                blocks.pop()
            if not blocks and current is not top:
                yield current
                current = top
            continue
        if word == b"else":
            current.actions.append(_else(body, code, blocks))
            continue
        define = _DEFINE.match(body)
        if define is not None and word == b"define" and not blocks:
            current = _Segment(define.group(1))
            blocks.append(False)
            continue
        if word == b"block":
            raise _Unsure("block")  # a define and a call at once: not modelled
        current.actions.append(_Action(body, code, any(blocks)))
        if word in (b"if", b"with", b"range", b"define"):
            blocks.append(word in (b"with", b"range"))
    if current is not top:
        raise _Unsure("an unterminated define")
    yield top


def _else(body: bytes, code: bytes, blocks: list[bool]) -> _Action:
    """An else, else if X or else with X: the branch (and X) sees the outer `.`; else with rebinds it again."""
    body, code = body[4:].lstrip(), code[4:].lstrip()
    if blocks:
        blocks[-1] = False
    action = _Action(body, code, any(blocks))
    if blocks and _first_word(code) in (b"with", b"range"):
        blocks[-1] = True
    return action


def _first_word(code: bytes) -> bytes:
    return code.split(None, 1)[0] if code else b""


def _split_terms(text: bytes, offset: int = 0) -> list[tuple[int, int]]:
    """The spans (from OFFSET) of TEXT's space-separated terms, up to a pipe or the end of the
    enclosing group; a parenthesised group or a string literal counts as one term."""
    terms: list[tuple[int, int]] = []
    depth, start, quote = 0, -1, b""
    i = offset
    while i < len(text):
        c = text[i : i + 1]
        if quote:
            if c == b"\\" and quote == b'"':
                i += 1
            elif c == quote:
                quote = b""
        elif depth == 0 and (c.isspace() or c in (b"|", b")")):
            if start >= 0:
                terms.append((start, i))
                start = -1
            if c != b" " and not c.isspace():
                return terms  # a pipe, or the end of the enclosing group
        else:
            start = i if start < 0 else start
            if c in (b'"', b"`"):
                quote = c
            depth += {b"(": 1, b")": -1}.get(c, 0)
        i += 1
    if start >= 0:
        terms.append((start, len(text)))
    return terms


class _Roots:
    """Which terms stand for the top-level object in one segment: `$` and `.` (unless rebound) when
    the argument is it, fields of the argument that may be it, and variables assigned from them."""

    def __init__(self, whole: bool, fields: set[bytes]) -> None:
        self.whole, self.fields, self.variables = whole, fields, set[bytes]()

    def spans(self, action: _Action) -> Iterator[tuple[int, int]]:
        code = action.code
        if self.whole:
            yield from (m.span() for m in _DOLLAR.finditer(code))
            if not action.rebound:
                yield from (m.span() for m in _DOT.finditer(code))
        if self.fields:
            for m in _FIELD.finditer(code):
                dollar = code[m.start() : m.start() + 1] == b"$"
                if (dollar or not action.rebound) and (_ALL in self.fields or m.group(1) in self.fields):
                    yield m.span()
        for var in self.variables:
            yield from (m.span() for m in _term(re.escape(var)).finditer(code))

    def is_root(self, term: bytes, rebound: bool) -> bool:
        blank = _blank(term)
        return (0, len(blank)) in set(self.spans(_Action(term, blank, rebound)))

    def holds(self, term: bytes, rebound: bool) -> bool:
        return any(self.spans(_Action(term, _blank(term), rebound)))


@dataclass
class Reach:
    """Which named templates get the top-level object: as their argument (WHOLE), or as some of the
    fields of a dict given as it (FIELDS; _ALL: any)."""

    whole: set[bytes] = field(default_factory=set)
    fields: dict[bytes, set[bytes]] = field(default_factory=dict)

    def add(self, name: bytes, whole: bool, fields: set[bytes]) -> bool:
        """Record it; whether that is new."""
        new = whole and name not in self.whole
        if whole:
            self.whole.add(name)
        known = self.fields.setdefault(name, set())
        new = new or not fields <= known
        known |= fields
        return new


def _callees(name_term: bytes, defined: Iterable[bytes]) -> list[bytes]:
    """The defined templates a call's name term can name."""
    literal = re.fullmatch(rb'"((?:\\.|[^"\\])*)"', name_term)
    if b".Template.BasePath" in name_term:
        return []  # a file under templates/: every file is analysed with the top-level object as its `.`
    if literal is not None:
        return [literal.group(1)]
    printf = re.fullmatch(rb'\(\s*printf\s+"((?:\\.|[^"\\])*)"[^()]*\)', name_term)
    if printf is None:
        return list(defined)
    pattern = re.compile(b".*".join(re.escape(part) for part in re.split(rb"%[-+# 0-9.]*[a-zA-Z]", printf.group(1))))
    return [name for name in defined if pattern.fullmatch(name)]


class _Passed(NamedTuple):
    """What a call's context term hands on of the top-level object: as the argument (WHOLE) or as
    these dict FIELDS; SPANS: where in the term (those uses are not uses)."""

    whole: bool
    fields: set[bytes]
    spans: list[tuple[int, int]]


def _passed(context: bytes, roots: _Roots, rebound: bool) -> _Passed | None:
    """What a call's context term hands on of the top-level object; None when it holds none of it.
    A dict value that holds it within an expression (`(include "x" .)`) is left to the caller's check."""
    if roots.is_root(context, rebound):
        return _Passed(True, set(), [(0, len(context))])
    if not roots.holds(context, rebound) or not context.startswith(b"("):
        return None
    terms = _split_terms(context, 1)
    if [context[a:b] for a, b in terms[:1]] != [b"dict"]:
        return None
    keys: set[bytes] = set()
    spans: list[tuple[int, int]] = []
    for (k0, k1), (v0, v1) in zip(terms[1::2], terms[2::2], strict=False):
        if roots.is_root(context[v0:v1], rebound):
            literal = re.fullmatch(rb'"(\w+)"', context[k0:k1])
            keys.add(literal.group(1) if literal else _ALL)
            spans.append((v0, v1))
    return _Passed(False, keys, spans) if keys else None


def _uses(action: _Action, roots: _Roots, defined: list[bytes], reach: Reach) -> bool:
    """Record the calls of ACTION that hand on the top-level object in REACH (whether any is new);
    _Unsure when ACTION uses it otherwise."""
    handed: list[tuple[int, int]] = []
    changed = False
    for call in _CALL.finditer(action.code):
        terms = _split_terms(action.body, call.end())
        if len(terms) < 2:
            continue
        (n0, n1), (c0, c1) = terms[0], terms[1]
        passed = _passed(action.body[c0:c1], roots, action.rebound)
        if passed is None:
            continue
        handed += [(c0 + a, c0 + b) for a, b in passed.spans]
        if call.group(1) == b"tpl":
            continue  # the string it renders is a value or a file: scanned as a top-level template
        for callee in _callees(action.body[n0:n1], defined):
            changed = reach.add(callee, passed.whole, passed.fields) or changed
    for span in list(roots.spans(action)):
        if any(a <= span[0] < b for a, b in handed) or _TARGET.match(action.code, span[1]):
            continue  # handed on, or a variable assigned to
        assign = _ASSIGN.search(action.code[: span[0]])
        if assign is not None and action.code[span[1] :].strip() == b"":
            roots.variables.add(assign.group(1))  # $root := .root
            continue
        raise _Unsure("uses the top-level object")
    return changed


def reads_capabilities(texts: Iterable[bytes]) -> bool:
    """Whether the templates of TEXTS (the files of a chart tree, or a values file) can read .Capabilities."""
    try:
        parts = [segment for text in texts if b"{{" in text for segment in segments(text)]
        defined = [s.name for s in parts if s.name is not None]
        reach = Reach()
        changed = True
        while changed:  # until no named template gets the top-level object in a new way
            changed = False
            for segment in parts:
                if segment.name is None:
                    roots = _Roots(True, set())
                else:
                    fields = reach.fields.get(segment.name, set())
                    if segment.name not in reach.whole and not fields:
                        continue
                    roots = _Roots(segment.name in reach.whole, fields)
                for action in segment.actions:
                    changed = _uses(action, roots, defined, reach) or changed
    except _Unsure:
        return True
    return False


def _boolean(value: object) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"not a boolean: {value!r}")
    return value


def reads_capabilities_cached(texts: Sequence[bytes]) -> bool:
    """reads_capabilities(TEXTS), kept in dsgate's cache by the texts and this module's source: the
    analysis of a chart tree takes a few tenths of a second, and the same chart is checked again and again."""
    name = jsoncache.key([jsoncache.source(__file__), *texts])
    return jsoncache.load_or_build("capability-reads", name, lambda: reads_capabilities(texts), _boolean)
