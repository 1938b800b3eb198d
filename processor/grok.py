"""Grok: named regular expressions, expanded and compiled once into one Python pattern.

``%{NAME}`` puts the definition of NAME in place, ``%{NAME:field}`` captures what it
matched into ``field`` (a dotted name, or Logstash's ``[a][b]`` form), ``%{NAME:field:int}``
(or ``:float``) converts the capture. ``(?<field>regex)`` captures inline, as in Logstash.

Everything is translated from Logstash's regex dialect (Oniguruma) to Python's ``re`` once,
at load time: every capture becomes a group ``g0``, ``g1``, ... tied to its field, and the
plain groups of definitions stop capturing, so a match costs one ``re`` call and one pass
over the groups. Unknown names, recursive definitions and bad regexes are :class:`GrokError`.
"""

from __future__ import annotations

import difflib
import math
import re
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

from logwharf.events import Event

from .fields import MISSING, FieldConflict, FieldPath
from .grok_patterns import PATTERNS

__all__ = [
    "CONVERSIONS",
    "Capture",
    "Grok",
    "GrokError",
    "Writer",
    "compile_grok",
    "compile_writer",
    "field_name",
]

MAX_EXPANDED_CHARS = 1_000_000  # a definition that doubles itself ten times is a mistake

Converter = Callable[[str], Any]
# Writes values[i] to the i-th field of the writer; False when a conversion failed.
Writer = Callable[[Event, Sequence[str | None]], bool]


class GrokError(ValueError):
    """A grok expression or definition that cannot be compiled; the message says why."""

    in_definition = False  # the message names the user's definition it comes from


def _to_int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        # "1.0" or "2e3" captured by NUMBER into an int field, as Logstash allows.
        return int(_to_float(text))


def _to_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"not a finite number: {text!r}")
    return value


CONVERSIONS: Mapping[str, Converter] = {"int": _to_int, "float": _to_float}


class Capture(NamedTuple):
    """One captured field: its place in ``match.groups()``, where it goes, how it converts."""

    group: int  # position in match.groups()
    path: FieldPath
    convert: Converter | None


class Grok:
    """A compiled expression: ``match(text)`` returns the ``re`` match or ``None``."""

    __slots__ = ("captures", "expression", "match", "regex")

    def __init__(self, expression: str, regex: re.Pattern[str], captures: tuple[Capture, ...]):
        self.expression = expression
        self.regex = regex
        self.captures = captures
        # Not regex.match for a leading "^": "^a|b" matches "xb". CPython's search tries
        # only the start for a pattern that begins with "^", so anchoring pays off anyway.
        self.match: Callable[[str], re.Match[str] | None] = regex.search

    def __repr__(self) -> str:
        return f"Grok({self.expression!r})"

    def fields(self, text: str) -> dict[str, str | int | float] | None:
        """The captures of ``text`` by field name (for tests and tools; stages use ``match``)."""
        found = self.match(text)
        if found is None:
            return None
        values = found.groups()
        result: dict[str, str | int | float] = {}
        for index, path, convert in self.captures:
            value = values[index]
            if value:
                try:
                    result[path.name] = convert(value) if convert else value
                except ValueError:
                    continue  # left out, as the stage leaves it out
        return result


def compile_writer(
    fields: Sequence[tuple[FieldPath, Converter | None]],
    *,
    overwrite: bool = True,
    keep_empty: bool = False,
) -> Writer:
    """A function that writes ``values[i]`` (converted) into the i-th field of one event.

    It does what :meth:`FieldPath.set` does for each (parents made, a ``None`` parent
    replaced, :class:`FieldConflict` for a parent that is not an object) but as straight-line
    code generated for these fields, which looks each parent object up once per event: nine
    ``set`` calls cost about three times as much. ``None`` is no value; so is ``""`` unless
    ``keep_empty`` (and always for a converted field). With ``overwrite=False`` a field that
    exists keeps its value.
    """
    names: dict[str, Any] = {"MISSING": MISSING, "conflict": _conflict}
    parents: dict[tuple[str, ...], str] = {(): "event"}
    lines = ["def write(event, values):", "    ok = True"]
    for number, (path, convert) in enumerate(fields):
        names[f"p{number}"] = path
        test = "v" if convert is not None or not keep_empty else "v is not None"
        if not overwrite:
            test += f" and p{number}.get(event) is MISSING"
        lines += [f"    v = values[{number}]", f"    if {test}:"]
        indent = "        "
        if convert is not None:
            names[f"c{number}"] = _or_missing(convert)
            if convert is _to_int:  # int() itself first: a call less for the usual digits
                lines += [
                    f"{indent}try:",
                    f"{indent}    v = int(v)",
                    f"{indent}except ValueError:",
                    f"{indent}    v = c{number}(v)",
                ]
            else:
                lines.append(f"{indent}v = c{number}(v)")
            lines += [f"{indent}if v is MISSING:", f"{indent}    ok = False", f"{indent}else:"]
            indent += "    "
        node = "event"
        for depth, key in enumerate(path.parents, start=1):
            keys = path.keys[:depth]
            if keys not in parents:
                parents[keys] = f"n{len(parents)}"
                lines.insert(2, f"    {parents[keys]} = None")
            child = parents[keys]
            lines += [
                f"{indent}if {child} is None:",
                f"{indent}    {child} = {node}.get({key!r})",
                f"{indent}    if {child} is None:",
                f"{indent}        {child} = {node}[{key!r}] = {{}}",
                f"{indent}    elif type({child}) is not dict:",
                f"{indent}        raise conflict(p{number}, {key!r}, {child})",
            ]
            node = child
        lines.append(f"{indent}{node}[{path.last!r}] = v")
        # A value written where a remembered parent was: look that parent up again.
        for keys, local in parents.items():
            if keys and keys[: len(path.keys)] == path.keys:
                lines.append(f"{indent}{local} = None")
    lines.append("    return ok")
    exec("\n".join(lines), names)  # the source holds only repr()s of names: no injection
    write: Writer = names["write"]
    return write


def _or_missing(convert: Converter) -> Converter:
    def converted(text: str) -> Any:
        try:
            return convert(text)
        except ValueError:
            return MISSING

    return converted


def _conflict(path: FieldPath, key: str, value: object) -> FieldConflict:
    return FieldConflict(
        f"cannot set {path.name}: {key} holds a {type(value).__name__}, not an object"
    )


_BRACKETS = re.compile(r"(?:\[[^\[\]]+\])+")


def field_name(name: str) -> str:
    """``[source][address]`` → ``source.address``; dotted names pass; anything else is refused."""
    name = name.strip()
    if name.startswith("["):
        if not _BRACKETS.fullmatch(name):
            raise GrokError(f"not a field name: {name!r} (use a.b.c or [a][b][c])")
        name = ".".join(part.strip() for part in name[1:-1].split("]["))
    try:
        FieldPath(name)
    except ValueError as error:
        raise GrokError(str(error)) from None
    return name


def compile_grok(expression: str, definitions: Mapping[str, str] | None = None) -> Grok:
    """Compiles ``expression``; ``definitions`` add to (and may replace) the library."""
    for name in definitions or ():
        if not _NAME.fullmatch(name):
            raise GrokError(f"not a pattern name: {name!r} (letters, digits and _ only)")
    translator = _Translator(definitions or {})
    source = translator.translate(expression, ())
    regex = _compile(source, expression)
    if regex.groups != len(translator.captures):  # pragma: no cover - a translation bug
        raise GrokError(f"internal error: group count mismatch in {expression!r}")
    return Grok(expression, regex, tuple(translator.captures))


def _compile(source: str, shown: str) -> re.Pattern[str]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "possible nested set" and the like
            return re.compile(source)
    except re.error as error:
        raise GrokError(f"not a valid regular expression: {error.msg} in {shown!r}") from None
    except RecursionError:
        raise GrokError(f"regular expression too deeply nested: {shown!r}") from None


_NAME = re.compile(r"[A-Za-z0-9_]+")
_REFERENCE = re.compile(r"([A-Za-z0-9_]+)(?::([^:]+))?(?::([A-Za-z]+))?")
_INLINE_FLAGS = re.compile(r"\(\?([imsx]*)(?:-([imsx]*))?([:)])")
_INLINE_NAME = re.compile(r"\(\?P?<([^>=!][^>]*)>")
_POSIX = re.compile(r"\[:(\^?)([a-z]+):\]")
_POSIX_CLASSES = {
    "alnum": "a-zA-Z0-9",
    "alpha": "a-zA-Z",
    "blank": r" \t",
    "cntrl": r"\x00-\x1f\x7f",
    "digit": "0-9",
    "graph": r"!-~",
    "lower": "a-z",
    "print": r" -~",
    "punct": r"!-/:-@\[-`{-~",
    "space": r"\s",
    "upper": "A-Z",
    "word": r"\w",
    "xdigit": "0-9A-Fa-f",
}
# Oniguruma escapes that Python lacks or reads otherwise (\h is a hex digit there, \z the
# very end, \Z the end or before a final newline).
_ESCAPES = {r"\h": "[0-9A-Fa-f]", r"\H": "[^0-9A-Fa-f]", r"\z": r"\Z", r"\Z": r"(?=\n?\Z)"}
_CLASS_ESCAPES = {r"\h": "0-9A-Fa-f"}


class _Open:
    """A group open in the text being translated."""

    __slots__ = ("scoped", "transparent")

    def __init__(self, transparent: bool) -> None:
        self.scoped = 0  # scoped-flag groups, opened for an inline (?i), that close with it
        self.transparent = transparent  # a plain or capturing group: no effect on what follows


class _Translator:
    def __init__(self, definitions: Mapping[str, str]) -> None:
        self.definitions = definitions
        self.captures: list[Capture] = []
        self.size = 0
        self.plain_dot = True  # until a (?s) or (?x) is seen: "." stops at "\n", " " is " "

    def translate(self, text: str, stack: tuple[str, ...]) -> str:
        out: list[str] = []
        groups = [_Open(False)]
        i, n = 0, len(text)
        while i < n:
            char = text[i]
            if char == "\\":
                escape = text[i : i + 2]
                out.append(_ESCAPES.get(escape, escape))
                i += 2
            elif char == "[":
                i = self._char_class(text, i, out)
            elif char == "%" and text.startswith("%{", i):
                end = text.find("}", i)
                if end < 0:
                    raise GrokError(f"unclosed %{{ in {text!r}")
                follow = _literal_after(text, end + 1, groups) if self.plain_dot else None
                out.append(self._reference(text[i + 2 : end], stack, follow))
                i = end + 1
            elif char == "(":
                i = self._group(text, i, out, groups, stack)
            elif char == ")":
                out.append(")" * (groups.pop().scoped if len(groups) > 1 else 0) + ")")
                i += 1
            else:
                out.append(char)
                i += 1
        out.append(")" * groups[-1].scoped)
        result = "".join(out)
        self.size += len(result)
        if self.size > MAX_EXPANDED_CHARS:
            raise GrokError(f"expands to more than {MAX_EXPANDED_CHARS} characters")
        return result

    def _reference(self, body: str, stack: tuple[str, ...], follow: str | None) -> str:
        found = _REFERENCE.fullmatch(body)
        if found is None:
            raise GrokError(
                f"malformed %{{{body}}}: "
                "write %{NAME}, %{NAME:field} or %{NAME:field:int|float}"
            )
        name, field, kind = found.groups()
        if name in stack:
            cycle = " -> ".join((*stack[stack.index(name) :], name))
            raise GrokError(f"recursive pattern definition: {cycle}")
        definition = self.definitions.get(name, PATTERNS.get(name))
        if definition is None:
            raise GrokError(f"unknown grok pattern {name}{_suggest(name, self)}")
        # Groups are numbered by their opening parenthesis: take the number before the inside.
        group = None if field is None else self._capture(field, kind, f"%{{{body}}}", stack)
        if definition == _LAZY_ANY and follow is not None:
            inner = _lazy_until(follow)
        elif name not in self.definitions:
            inner = self.translate(definition, (*stack, name))
        else:
            try:  # name the user's definition when it is the bad one
                inner = self.translate(definition, (*stack, name))
                _compile(inner, definition)
            except GrokError as error:
                if error.in_definition:
                    raise
                located = GrokError(f"pattern_definitions {name}: {error}")
                located.in_definition = True
                raise located from None
        return f"(?:{inner})" if group is None else f"(?P<{group}>{inner})"

    def _capture(self, field: str, kind: str | None, shown: str, stack: tuple[str, ...]) -> str:
        try:
            path = FieldPath(field_name(field))
        except GrokError as error:
            raise GrokError(f"{shown}: {error}") from None
        convert = None
        if kind is not None:
            convert = CONVERSIONS.get(kind)
            if convert is None:
                raise GrokError(f"{shown}: unknown type {kind!r} (int or float)")
        group = f"g{len(self.captures)}"
        self.captures.append(Capture(len(self.captures), path, convert))
        return group

    def _group(
        self, text: str, i: int, out: list[str], groups: list[_Open], stack: tuple[str, ...]
    ) -> int:
        if not text.startswith("(?", i):
            out.append("(?:")  # plain groups must not capture: only named fields do
            groups.append(_Open(True))
            return i + 1
        flags = _INLINE_FLAGS.match(text, i)
        if flags and (flags[1] or flags[2]):
            # Oniguruma's "m" is Python's "s" (dot matches a newline).
            on, off = (part.replace("m", "s") for part in (flags[1], flags[2] or ""))
            if "s" in on or "x" in on:
                self.plain_dot = False
            out.append(f"(?{on}-{off}:" if off else f"(?{on}:")
            if flags[3] == ":":
                groups.append(_Open(False))
            else:
                # Oniguruma's (?i) lasts to the end of the enclosing group; Python 3.11 allows
                # global flags only at the very start: a scoped group, closed with that group.
                groups[-1].scoped += 1
            return flags.end()
        named = _INLINE_NAME.match(text, i)
        if named:
            shown = named[0] + "...)"
            out.append(f"(?P<{self._capture(named[1], None, shown, stack)}>")
            groups.append(_Open(True))
            return named.end()
        if text.startswith("(?P=", i):
            raise GrokError(f"back-references are not supported: {text!r}")
        if text.startswith("(?#", i):
            end = text.find(")", i)
            return len(text) if end < 0 else end + 1
        out.append("(?")
        groups.append(_Open(text.startswith("(?:", i)))
        return i + 2

    def _char_class(self, text: str, i: int, out: list[str]) -> int:
        """Copies ``[...]`` starting at ``i``, translating POSIX classes and nested sets."""
        parts, end, negated = self._class_body(text, i)
        out.append("[" + ("^" if negated else "") + "".join(parts) + "]")
        return end

    def _class_body(self, text: str, i: int) -> tuple[list[str], int, bool]:
        n = len(text)
        j = i + 1
        negated = text.startswith("^", j)
        j += negated
        parts: list[str] = []
        if text.startswith("]", j):
            parts.append(r"\]")
            j += 1
        while j < n:
            char = text[j]
            if char == "\\":
                escape = text[j : j + 2]
                parts.append(_CLASS_ESCAPES.get(escape, escape))
                j += 2
            elif char == "]":
                return parts, j + 1, negated
            elif char == "[":
                posix = _POSIX.match(text, j)
                if posix:
                    members = _POSIX_CLASSES.get(posix[2])
                    if members is None or posix[1]:
                        raise GrokError(f"unsupported character class {posix[0]} in {text!r}")
                    parts.append(members)
                    j = posix.end()
                    continue
                inner, j, inner_negated = self._class_body(text, j)
                if inner_negated:
                    raise GrokError(f"negated nested character class in {text!r}")
                parts.extend(inner)  # a nested set is a union: [a[bc]] is [abc]
            elif text.startswith("&&", j):
                raise GrokError(f"character class intersection (&&) is not supported: {text!r}")
            elif char in "|~" and text.startswith(char * 2, j):
                parts.append("\\" + char)  # literal in Oniguruma, a future set operator in re
                j += 1
            else:
                parts.append(char)
                j += 1
        raise GrokError(f"unclosed character class in {text!r}")


_LAZY_ANY = ".*?"  # DATA
_SPECIAL = frozenset(".^$*+?{}[]|()\\%")
_OPTIONAL = frozenset("*?{")


def _literal_after(text: str, i: int, groups: list[_Open]) -> str | None:
    """The literal character that must come right after position ``i`` (closing only plain
    groups on the way), or ``None`` when what follows is anything less certain."""
    closed = 0
    while text.startswith(")", i):
        closed += 1
        if closed >= len(groups) or not groups[-closed].transparent:
            return None
        i += 1
        if text[i : i + 1] in _OPTIONAL or text.startswith("+", i):
            return None  # a repeated group: what follows may be the group again
    if text.startswith("\\", i):
        char = text[i + 1 : i + 2]
        if not char or char.isalnum() or char == "_":
            return None  # \d, \s, \b...: a class or an assertion, not a character
        i += 2
    else:
        char = text[i : i + 1]
        if not char or char in _SPECIAL:
            return None
        i += 1
    return None if text[i : i + 1] in _OPTIONAL else char


def _lazy_until(char: str) -> str:
    """``.*?`` when ``char`` must follow: the same end positions, tried in the same order
    (before each ``char`` in turn), found by possessive runs instead of one step at a time."""
    char = re.escape(char)  # the same escape serves inside a class and out
    return f"[^{char}\\n]*+(?:{char}[^{char}\\n]*+)*?"


def _suggest(name: str, translator: _Translator) -> str:
    known = set(PATTERNS) | set(translator.definitions)
    close = difflib.get_close_matches(name, known, n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    return f"{hint} (define it under pattern_definitions)"
