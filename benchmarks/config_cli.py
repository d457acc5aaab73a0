"""Command-line options generated from a config dataclass: one source of truth.

Every field of a frozen config dataclass becomes an option ``--field-name`` whose type,
default and help text come from the field's annotation, its default and the class's
Google-style ``Attributes:`` docstring. An option the user does not give is left out of
the result, so the dataclass's own default applies; nothing here repeats a default.

Example:
    >>> import argparse
    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True)
    ... class Cfg:
    ...     '''A config.
    ...
    ...     Attributes:
    ...         lr: learning rate.
    ...         tags: free labels.
    ...     '''
    ...     lr: float = 0.1
    ...     tags: tuple[str, ...] = ()
    >>> p = argparse.ArgumentParser()
    >>> add_config_options(p, Cfg, aliases={"tags": ["--tag"]})
    >>> given_fields(Cfg, p.parse_args(["--lr", "0.5", "--tag", "a", "--tag", "b"]))
    {'lr': 0.5, 'tags': ('a', 'b')}
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import types
import typing
from collections.abc import Iterable
from typing import Any

__all__ = ["field_docs", "add_config_options", "given_fields", "option_name"]

_DEST_PREFIX = "cfg__"


def field_docs(cls: type) -> dict[str, str]:
    """Field name -> its text in the class docstring's ``Attributes:`` section."""
    doc = cls.__doc__ or ""
    match = re.search(r"^(\s*)Attributes:\s*$", doc, re.MULTILINE)
    if not match:
        return {}
    out: dict[str, str] = {}
    indent, name = None, None
    for line in doc[match.end() :].splitlines():
        if not line.strip():
            continue
        width = len(line) - len(line.lstrip())
        if indent is None:
            indent = width
        if width < indent:
            break
        item = re.match(r"\s*(\w+):\s*(.*)$", line)
        if width == indent and item:
            name = item.group(1)
            out[name] = item.group(2).strip()
        elif name is not None:
            out[name] += " " + line.strip()
    return out


def option_name(field_name: str) -> str:
    """``stall_timeout_s`` -> ``--stall-timeout-s``."""
    return "--" + field_name.replace("_", "-")


def _unwrap_optional(tp: Any) -> tuple[Any, bool]:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(tp)) == 2:
            return args[0], True
    return tp, False


def _plain(text: str) -> str:
    """Docstring markup as plain help text (argparse also needs % doubled)."""
    text = re.sub(r":\w+:`~?([^`]*)`", r"\1", text).replace("``", "")
    return text.replace("%", "%%")


def add_config_options(
    parser: argparse.ArgumentParser,
    cls: type,
    *,
    skip: Iterable[str] = (),
    aliases: dict[str, list[str]] | None = None,
    required: Iterable[str] = (),
) -> None:
    """Add one option per field of ``cls`` (except ``skip``) to ``parser``.

    Types: ``int``, ``float``, ``str`` take a value; ``bool`` gives ``--x/--no-x``;
    ``X | None`` takes a value of type X, or ``none``; ``tuple[str, ...]`` is repeated, one
    value each time (``aliases`` may name it in the singular); ``tuple[int | float, ...]``
    takes its values after one option (``--x 0.1 0.3 0.3``; repeating it adds more). Help
    texts are the docstring's.

    Raises:
        TypeError: for a field type this cannot express.
    """
    hints = typing.get_type_hints(cls)
    docs = field_docs(cls)
    aliases = aliases or {}
    required = set(required)
    for f in dataclasses.fields(cls):
        if f.name in set(skip):
            continue
        tp, optional = _unwrap_optional(hints[f.name])
        names = aliases.get(f.name, [option_name(f.name)])
        default = f.default if f.default is not dataclasses.MISSING else None
        text = docs.get(f.name, "")
        if default is None:
            shown: Any = "none"
        elif isinstance(default, tuple):
            shown = " ".join(map(str, default))
        else:
            shown = default
        if f.default is not dataclasses.MISSING and f.name not in required:
            text = f"{text} (default {shown})" if text else f"default {shown}"
        kwargs: dict[str, Any] = {
            "dest": _DEST_PREFIX + f.name,
            "default": argparse.SUPPRESS,
            "help": _plain(text),
        }
        if f.name in required:
            kwargs["required"] = True
        if tp is bool:
            parser.add_argument(*names, action=argparse.BooleanOptionalAction, **kwargs)
        elif typing.get_origin(tp) is tuple:
            item = typing.get_args(tp)[0]
            if item not in (int, float, str):
                raise TypeError(f"{cls.__name__}.{f.name}: no command-line form for {tp!r}")
            if item is str:  # one value per occurrence: --source a --source b
                parser.add_argument(
                    *names, action="append", type=item, metavar=f.name.upper(), **kwargs
                )
            else:  # numbers: one or more values, --x 0.1 0.3 0.3 (repeating also adds)
                parser.add_argument(
                    *names, action="extend", nargs="+", type=item, metavar=item.__name__.upper(),
                    **kwargs,
                )  # fmt: skip
        elif tp in (int, float, str):
            conv = _optional(tp) if optional else tp
            parser.add_argument(*names, type=conv, metavar=tp.__name__.upper(), **kwargs)
        else:
            raise TypeError(f"{cls.__name__}.{f.name}: no command-line form for {tp!r}")


def _optional(tp: type) -> Any:
    def convert(text: str) -> Any:
        return None if text.lower() == "none" else tp(text)

    convert.__name__ = tp.__name__
    return convert


def given_fields(cls: type, args: argparse.Namespace) -> dict[str, Any]:
    """The fields of ``cls`` the user gave on the command line (typed; tuples as tuples)."""
    out: dict[str, Any] = {}
    names = {f.name for f in dataclasses.fields(cls)}
    for key, value in vars(args).items():
        if key.startswith(_DEST_PREFIX) and key[len(_DEST_PREFIX) :] in names:
            name = key[len(_DEST_PREFIX) :]
            out[name] = tuple(value) if isinstance(value, list) else value
    return out
