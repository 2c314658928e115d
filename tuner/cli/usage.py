"""The command line in tuner's own words: help without Python types, and usage errors as tuner
says them (``tuner: error: --prune: must be at least 1``), with a did-you-mean for commands and
options. typer and pydantic parse the arguments; nothing of their wording reaches the user.

``TunerCommand`` is the class of every verb (``options.verb``); ``message`` turns any of typer's
usage exceptions into one line (``group`` prints it, with the usage line and where to get help).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import Any

import typer
from typer.core import TyperCommand

from tuner.base.wording import did_you_mean, one_of


def metavar(param: Any) -> str:
    """How a parameter's value is named in help and messages: its metavar, else its name in
    capitals; an argument that takes several values ends with ``...``."""
    name = param.metavar or (param.name or "value").upper().replace("_", "-")
    choices = choices_of(param)
    if param.metavar is None and choices:
        name = "|".join(choices)
    if param.param_type_name == "argument" and param.nargs != 1 and not name.endswith("..."):
        name += "..."
    return str(name)


def choices_of(param: Any) -> list[str]:
    """The values a parameter accepts when they are a fixed list (an enum), in their order."""
    annotation = getattr(getattr(param, "type_descriptor", None), "annotation", None)
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return [str(member.value) for member in annotation]
    return []


def spelled(param: Any) -> str:
    """The parameter as a user types it: its longest option name, or its metavar."""
    if param.param_type_name == "option":
        return str(max(param.opts, key=len))
    return metavar(param)


class TunerCommand(TyperCommand):
    """A verb whose help names values (``--root DIR``, ``PROFILE...``), never their types."""

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if param.param_type_name == "argument":
                name = metavar(param)
                pieces.append(name if param.required else f"[{name}]")
        return pieces

    def format_options(self, ctx: Any, formatter: Any) -> None:
        arguments, options = [], []
        for param in self.get_params(ctx):
            if getattr(param, "hidden", False):
                continue
            if param.param_type_name == "argument":
                arguments.append((metavar(param), getattr(param, "help", None) or ""))
            else:
                options.append((_option_names(param), getattr(param, "help", None) or ""))
        if arguments:
            with formatter.section("Arguments"):
                formatter.write_dl(arguments)
        if options:
            with formatter.section("Options"):
                formatter.write_dl(options)


def _option_names(param: Any) -> str:
    names = sorted(param.opts, key=lambda name: name.startswith("--"))  # -y before --yes
    text = ", ".join(names)
    if not param.is_flag and not param.count:
        text += f" {metavar(param)}"
    return text


def message(exc: typer.TyperException) -> str:
    """One line, in tuner's words, for a usage error typer (or click within it) raised."""
    ctx = getattr(exc, "ctx", None)
    command = getattr(ctx, "command", None)
    param = getattr(exc, "param", None)
    name = type(exc).__name__
    if name == "NoSuchOption":
        option = str(getattr(exc, "option_name", ""))
        known = _option_spellings(command, ctx)
        return f"no option {option}" + _suggest(option, known)
    if name == "MissingParameter" and param is not None:
        return f"missing {spelled(param)}" + (f": {param.help}" if param.help else "")
    if name == "BadParameter" and param is not None:
        return f"{spelled(param)}: {_why(exc, param)}"
    if name == "BadOptionUsage":
        option = str(getattr(exc, "option_name", ""))
        return f"{option} needs a value"
    text = getattr(exc, "message", str(exc))
    if text.startswith("Got unexpected extra argument"):  # "...argument(s) (a b)"
        extra = text.split("(s) (", 1)[-1].removesuffix(")")
        return f"unexpected argument{'s' if ' ' in extra else ''}: {extra}"
    return str(text)


def _why(exc: typer.TyperException, param: Any) -> str:
    """What is wrong with a value, from pydantic's structured error, said in tuner's words."""
    choices = choices_of(param)
    errors = getattr(exc.__cause__, "errors", None)
    found = errors()[0] if callable(errors) else {}
    given = found.get("input")
    bounds = found.get("ctx") or {}
    kind = str(found.get("type", ""))
    if choices:
        return (
            f"{given!r} is not {one_of(choices)}"
            if given is not None
            else f"choose {one_of(choices)}"
        )
    wording = {
        "greater_than_equal": ("at least", "ge"),
        "greater_than": ("more than", "gt"),
        "less_than_equal": ("at most", "le"),
        "less_than": ("less than", "lt"),
    }
    if kind in wording:
        phrase, bound = wording[kind]
        return f"must be {phrase} {bounds.get(bound)}, not {given}"
    if kind.startswith("int"):
        return f"must be a whole number, not {given!r}"
    if kind.startswith("float"):
        return f"must be a number, not {given!r}"
    if kind.startswith("bool"):
        return f"must be yes or no, not {given!r}"
    return (
        f"{given!r} is not a valid {metavar(param)}" if given is not None else "not a valid value"
    )


def _option_spellings(command: Any, ctx: Any) -> list[str]:
    if command is None:
        return []
    return [name for param in command.get_params(ctx) for name in getattr(param, "opts", [])
            if name.startswith("-")]  # fmt: skip


def _suggest(word: str, known: Iterable[str]) -> str:
    guess = did_you_mean(word.lstrip("-"), {name.lstrip("-"): name for name in known})
    return f" (did you mean {guess}?)" if guess else ""
