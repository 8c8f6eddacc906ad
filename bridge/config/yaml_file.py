"""A YAML file -> `Config`, with `${ENV}` substituted and one-line errors that name the key's line.

The file is composed to PyYAML nodes first, so every key path keeps its line; pydantic validates
the plain values, and its first error is told as `config.yaml:14: plex[0].url: expected a string,
got list`: the location it names is read against the declarations to find the type it wanted.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import TypeAdapter, ValidationError
from pydantic_core import ErrorDetails

from bridge.config.settings import REFUSED, Config, Loc
from bridge.wire import one_line


class ConfigError(ValueError):
    """One line: file, line, key path, what is wrong."""


# No config has this many values; a file that expands to more is an alias bomb.
MAX_NODES = 100_000


_CONFIG = TypeAdapter(Config)


def load(path: str | Path) -> Config:
    path = Path(path)
    return parse(path.read_text(encoding="utf-8"), str(path))


def parse(text: str, name: str = "<string>") -> Config:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{name}:{mark.line + 1}" if mark else name
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(one_line(f"{where}: not valid YAML ({problem})")) from None
    if root is None:
        raise ConfigError(f"{name}: the file is empty")
    document = _Document(name)
    try:
        data = document.value(root, ())
    except yaml.YAMLError as exc:  # a tag no safe constructor knows, a bad !!timestamp
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(one_line(f"{name}{f':{mark.line + 1}' if mark else ''}: not valid YAML ({problem})")) from None
    try:
        return _CONFIG.validate_python(data)
    except ValidationError as exc:
        raise document.error(exc.errors(include_url=False)[0]) from None


class _Document:
    """The plain values of a YAML node tree, and the line of every key path in it."""

    def __init__(self, name: str):
        self.name = name
        self.lines: dict[Loc, int] = {}  # where each value starts
        self.key_lines: dict[Loc, int] = {}  # where each mapping key is written
        self._open: set[int] = set()  # the nodes being read: an alias back to one of them is a loop
        self._left = MAX_NODES

    def fail(self, line: int | None, loc: Loc, reason: str) -> ConfigError:
        return ConfigError(one_line(f"{self.name}{f':{line}' if line else ''}: {_path(loc)}: {reason}"))

    def value(self, node: yaml.Node, loc: Loc) -> Any:
        self.lines[loc] = node.start_mark.line + 1
        self._left -= 1
        if self._left < 0:  # aliases of aliases: a few lines can stand for billions of values
            raise self.fail(self.lines[loc], loc, f"more than {MAX_NODES} values (aliases repeating aliases?)")
        if not isinstance(node, (yaml.MappingNode, yaml.SequenceNode)):
            return self.scalar(node, loc)
        if id(node) in self._open:
            raise self.fail(self.lines[loc], loc, "an alias of the value it is inside (a loop)")
        self._open.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                return [self.value(v, (*loc, i)) for i, v in enumerate(node.value)]
            out = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    raise self.fail(key_node.start_mark.line + 1, loc, "a key must be a plain name, not a list or a mapping")
                key = (*loc, str(key_node.value))
                self.key_lines[key] = key_node.start_mark.line + 1
                out[str(key_node.value)] = self.value(value_node, key)
            return out
        finally:
            self._open.discard(id(node))

    def scalar(self, node: yaml.Node, loc: Loc) -> Any:
        value = yaml.SafeLoader(" ").construct_object(node, deep=True)
        return self.substitute(value, loc) if isinstance(value, str) else value

    def substitute(self, text: str, loc: Loc) -> str:
        def repl(m: re.Match[str]) -> str:
            var, default = m.group(1), m.group(3)
            if var in os.environ:
                return os.environ[var]
            if default is not None:
                return default
            raise self.fail(self.lines[loc], loc, f"environment variable {var} is not set")

        return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}", repl, text)

    def error(self, err: ErrorDetails) -> ConfigError:
        """Pydantic's error as one short line, at the line of the key it is about."""
        ctx = err.get("ctx") or {}
        full: Loc = ctx.get("at") or tuple(err["loc"])
        declared, loc = _declared_at(full)
        kind = err["type"]
        if kind == "missing":
            return self.fail(None, loc, "missing (required)")
        if kind == "unexpected_keyword_argument":
            hint = difflib.get_close_matches(str(full[-1]), _fields(_bare(declared)), n=1)
            return self.fail(self.key_lines.get(full), full, "unknown key" + (f" (did you mean '{hint[0]}'?)" if hint else ""))
        if kind == REFUSED:
            reason = ctx["reason"]
        elif typing.get_origin(_bare(declared)) is Literal:
            reason = f"must be one of {', '.join(typing.get_args(_bare(declared)))}, got {err['input']!r}"
        else:
            reason = f"expected {_describe(declared)}, got {_kind(err['input'])}"
        # a bad account name is a key: its line is the key's
        lines = self.key_lines if full[-1:] == ("[key]",) else self.lines
        return self.fail(lines.get(loc), loc, reason)


# -- reading pydantic's error locations against the declarations ---------------------------------


def _declared_at(loc: Loc) -> tuple[Any, Loc]:
    """The declared type at `loc`, and the part of `loc` that names keys: pydantic appends union
    member tags ('str', 'int') and '[key]', which the file does not have."""
    declared: Any = Config
    for i, part in enumerate(loc):
        inner = _bare(declared)
        if part in _fields(inner):
            declared = _fields(inner)[str(part)]
        elif typing.get_origin(inner) is tuple and isinstance(part, int):
            declared = typing.get_args(inner)[0]
        elif typing.get_origin(inner) is Mapping and part != "[key]":
            declared = typing.get_args(inner)[1]
        else:
            return declared, loc[:i]
    return declared, loc


def _fields(declared: Any) -> dict[str, Any]:
    is_settings = isinstance(declared, type) and dataclasses.is_dataclass(declared)
    return typing.get_type_hints(declared, include_extras=True) if is_settings else {}


def _bare(declared: Any) -> Any:
    """Without Annotated's checks, and without `| None` (a value that failed is not null)."""
    declared = _unannotated(declared)
    members = [m for m in _members(declared) if m is not types.NoneType]
    return _bare(members[0]) if len(members) == 1 and members[0] is not declared else declared


def _unannotated(declared: Any) -> Any:
    while typing.get_origin(declared) is Annotated:
        declared = typing.get_args(declared)[0]
    return declared


def _members(declared: Any) -> tuple[Any, ...]:
    is_union = typing.get_origin(declared) in (typing.Union, types.UnionType)
    return typing.get_args(declared) if is_union else (declared,)


def _describe(declared: Any) -> str:
    declared = _unannotated(declared)
    if len(_members(declared)) > 1:
        return " or ".join(_describe(m) for m in _members(declared))
    names = {str: "a string", Path: "a string", int: "an integer", float: "a number", bool: "true or false",
             tuple: "a list", types.NoneType: "null"}
    return names.get(typing.get_origin(declared) or declared, "a mapping")


def _kind(value: Any) -> str:
    names = {dict: "mapping", list: "list", bool: "boolean", types.NoneType: "null", str: "string"}
    return names.get(type(value), type(value).__name__)


def _path(loc: Loc) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text or "config"
