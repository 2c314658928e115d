"""A shell's completion request, answered at keyboard speed: without the CLI framework, the
models or the YAML parser, from ``data/completion.json`` (each command's options and arguments,
and what each value is: a profile, a catalog key or rule, a tuned profile, a choice).

The shells call ``tuner`` back with ``_TUNER_COMPLETE=complete_bash|zsh|fish`` (the protocol of
the scripts ``tuner completion SHELL`` prints); ``tuner/__main__`` sends such a run here first.
``tests/completion_table.py`` writes the table from the real commands, and a test holds the two
to each other. Only names that are safe to offer to a shell are offered (profile names as the
library lists them, tuned names of the same shape); file and directory values are left to the
shell (bash's ``-o default``, zsh's ``_files``, fish's file completion).
"""

from __future__ import annotations

import json
import re
import shlex
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tuner.model.tuned import SEARCH_PATH
from tuner.profile.library import PROFILE_NAME, ProfileLibrary

VARIABLE = "_TUNER_COMPLETE"
TABLE = Path(__file__).resolve().parent.parent / "data" / "completion.json"
SHELLS = ("bash", "zsh", "fish")

Item = tuple[str, str]  # a value and its help (empty when it has none)


def answer(environ: Mapping[str, str], table: dict[str, Any] | None = None) -> int:
    """Print the completions a shell asked for, in its format; the exit code it expects."""
    shell = environ.get(VARIABLE, "").removeprefix("complete_")
    if shell not in SHELLS:  # a script from another version, or a stray variable: run nothing
        sys.stderr.write(
            f"tuner: error: {VARIABLE} asks for an unknown completion ({shell!r}); "
            "print the script again with: tuner completion bash|zsh|fish\n"
        )
        return 64
    args, incomplete = _words(shell, environ)
    items = complete(args, incomplete, table or json.loads(TABLE.read_text()))
    if shell == "bash":
        _print("\n".join(value for value, _help in items))
        return 0
    if shell == "zsh":
        shown = "\n".join(f'"{_zsh(v)}":"{_zsh(h)}"' if h else f'"{_zsh(v)}"' for v, h in items)
        _print(f"_arguments '*: :(({shown}))'" if items else "_files")
        return 0
    if environ.get("_TYPER_COMPLETE_FISH_ACTION") == "is-args":
        return 0 if items else 1  # 1: let fish complete file names
    _print("\n".join(f"{v}\t{h}" if h else v for v, h in items))
    return 0


def complete(args: list[str], incomplete: str, table: dict[str, Any]) -> list[Item]:
    """What may follow ``args`` (the words after ``tuner``) and start with ``incomplete``."""
    node, positional, used, waiting = table, 0, set(), None
    root = "/"
    for token in args:
        if waiting is not None:
            root = token if waiting == "--root" else root
            waiting = None
        elif token.startswith("-") and token != "-":
            name, eq, value = token.partition("=")
            option = node["options"].get(name)
            if option is not None:
                used.add(option["id"])
                if option.get("value") is not None and not eq:
                    waiting = name
                elif name == "--root" and eq:
                    root = value
        elif "commands" in node:  # a group: the word names its command, or nothing follows
            if token not in node["commands"]:
                return []
            node, positional, used = node["commands"][token], 0, set()
        else:
            positional += 1
    if waiting is not None:
        return _values(node["options"][waiting]["value"], incomplete, root, table)
    if incomplete.startswith("-"):
        name, eq, value = incomplete.partition("=")
        option = node["options"].get(name)
        if eq and option is not None and option.get("value") is not None:
            return [(f"{name}={v}", h) for v, h in _values(option["value"], value, root, table)]
        return [(name, option["help"]) for name, option in node["options"].items()
                if name.startswith(incomplete) and option["id"] not in used]  # fmt: skip
    if "commands" in node:
        return [(name, sub["help"]) for name, sub in node["commands"].items()
                if name.startswith(incomplete)]  # fmt: skip
    arguments = node.get("arguments", [])
    if positional < len(arguments):
        return _values(arguments[positional]["value"], incomplete, root, table)
    if arguments and arguments[-1]["many"]:
        return _values(arguments[-1]["value"], incomplete, root, table)
    return []


def _values(kind: Any, incomplete: str, root: str, table: dict[str, Any]) -> list[Item]:
    if isinstance(kind, list):  # a fixed choice
        names = kind
    elif kind == "profile":
        names = [entry.name for entry in ProfileLibrary.for_root(Path(root)).entries()]
    elif kind == "subject":
        names = table["subjects"]
    elif kind == "tuned":
        names = _tuned(Path(root))
    else:  # a file, a directory, a number: the shell's own completion, or nothing
        return []
    return [(name, "") for name in names if name.startswith(incomplete)]


def _tuned(root: Path) -> list[str]:
    """tuned profile names under the root, in tuned's search path (only safe names)."""
    names: set[str] = set()
    for directory in SEARCH_PATH:
        try:
            found = (root / directory.relative_to("/")).glob("*/tuned.conf")
            names |= {p.parent.name for p in found if PROFILE_NAME.fullmatch(p.parent.name)}
        except OSError:
            continue
    return sorted(names)


def _words(shell: str, environ: Mapping[str, str]) -> tuple[list[str], str]:
    """The words before the one being completed, and that one (as typer's shells send them)."""
    if shell == "bash":
        words = _split(environ.get("COMP_WORDS", ""))
        try:
            index = int(environ.get("COMP_CWORD", ""))
        except ValueError:
            return [], ""
        return words[1:index], words[index] if 0 < index < len(words) else ""
    line = environ.get("_TYPER_COMPLETE_ARGS", "")
    words = _split(line)[1:]
    if words and not line.endswith(" "):
        return words[:-1], words[-1]
    return words, ""


def _split(text: str) -> list[str]:
    """Words as a shell splits them; an unfinished quote still ends a (last) word."""
    lexer = shlex.shlex(text, posix=True)
    lexer.whitespace_split = True
    lexer.commenters = ""
    words: list[str] = []
    try:
        words.extend(lexer)
    except ValueError:
        words.append(lexer.token)
    return words


def _zsh(text: str) -> str:
    text = re.sub(r"\s+", " ", text)
    return (text.replace('"', '""').replace("'", "''").replace("$", "\\$").replace("`", "\\`")
            .replace(":", r"\\:"))  # fmt: skip


def _print(text: str) -> None:
    try:
        sys.stdout.write(text + "\n" if text else "")
        sys.stdout.flush()
    except BrokenPipeError:
        pass
