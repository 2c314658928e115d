"""Plain data for the cache: frozen dataclasses as JSON, read back only into an expected shape.

Nothing read here can run code (no pickle): a document is JSON, and loading builds only the
dataclasses the expected type names (found by walking its annotations), checking every field's
type on the way. Anything else (an unknown class, a missing or extra field, a wrong type, a
string where a number goes) is ``Malformed``, and the caller treats the entry as absent.

Encoding: a tuple is ``{"t": [...]}``, a dict ``{"d": [[k, v], ...]}`` (keys may be paths or
numbers), a path ``{"p": "..."}`` (``PurePosixPath``) or ``{"P": "..."}`` (``Path``), a dataclass
``{"c": "Name", "f": {...}}``; lists, strings, numbers, booleans and null are themselves.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import types
import typing
from pathlib import Path, PurePosixPath
from typing import Any

MAX_DEPTH = 64


class Malformed(ValueError):
    pass


def dumps(value: object) -> bytes:
    return json.dumps(_encode(value), separators=(",", ":")).encode()


def _encode(value: object) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, tuple):
        return {"t": [_encode(v) for v in value]}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        return {"d": [[_encode(k), _encode(v)] for k, v in value.items()]}
    if isinstance(value, Path):
        return {"P": str(value)}
    if isinstance(value, PurePosixPath):
        return {"p": str(value)}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return {"c": type(value).__name__, "f": fields}
    raise TypeError(f"not plain data: {type(value).__name__}")


def loads(data: bytes, shape: Any) -> Any:
    """``data`` decoded as a value of type ``shape``; Malformed when it is anything else."""
    try:
        raw = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise Malformed(f"not JSON: {exc}") from None
    return _decode(raw, shape, 0)


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _decode(raw: Any, shape: Any, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise Malformed("nested too deeply")
    origin, args = typing.get_origin(shape), typing.get_args(shape)
    if shape is Any or shape is object:
        raise Malformed("no open-ended values in the cache")
    if origin in (typing.Union, types.UnionType):
        for option in args:
            try:
                return _decode(raw, option, depth)
            except Malformed:
                continue
        raise Malformed(f"{_short(raw)} is none of {shape}")
    if shape is type(None):
        if raw is None:
            return None
        raise Malformed("expected null")
    if origin is typing.Literal:
        if raw in args and type(raw) in {type(a) for a in args}:
            return raw
        raise Malformed(f"{_short(raw)} is not one of {args}")
    if shape is bool:
        if isinstance(raw, bool):
            return raw
        raise Malformed("expected a boolean")
    if shape is int:
        if isinstance(raw, int) and not isinstance(raw, bool):
            return raw
        raise Malformed("expected an integer")
    if shape is float:
        if isinstance(raw, (int, float)) and not isinstance(raw, bool):
            return float(raw)
        raise Malformed("expected a number")
    if shape is str:
        if isinstance(raw, str):
            return raw
        raise Malformed("expected text")
    if shape in (Path, PurePosixPath):
        tag = "P" if shape is Path else "p"
        if isinstance(raw, dict) and set(raw) == {tag} and isinstance(raw[tag], str):
            return shape(raw[tag])
        raise Malformed(f"expected a {shape.__name__}")
    if origin is tuple:
        items = _tagged(raw, "t", list)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_decode(v, args[0], depth + 1) for v in items)
        if len(items) != len(args):
            raise Malformed("a tuple of the wrong length")
        return tuple(_decode(v, a, depth + 1) for v, a in zip(items, args, strict=True))
    if origin is list:
        if not isinstance(raw, list):
            raise Malformed("expected a list")
        return [_decode(v, args[0], depth + 1) for v in raw]
    if origin is dict:
        pairs = _tagged(raw, "d", list)
        out = {}
        for pair in pairs:
            if not isinstance(pair, list) or len(pair) != 2:
                raise Malformed("a dict entry is not a pair")
            out[_decode(pair[0], args[0], depth + 1)] = _decode(pair[1], args[1], depth + 1)
        return out
    if isinstance(shape, type) and dataclasses.is_dataclass(shape):
        return _dataclass(raw, shape, depth)
    raise Malformed(f"cannot read a {shape!r}")


def _dataclass(raw: Any, cls: type, depth: int) -> Any:
    if not isinstance(raw, dict) or set(raw) != {"c", "f"} or raw["c"] != cls.__name__:
        raise Malformed(f"expected a {cls.__name__}")
    values = raw["f"]
    hints = _hints(cls)
    names = {f.name for f in dataclasses.fields(cls) if f.init}
    if not isinstance(values, dict) or set(values) != names:
        raise Malformed(f"the fields of a {cls.__name__} are not {sorted(names)}")
    return cls(**{name: _decode(values[name], hints[name], depth + 1) for name in names})


def _tagged(raw: Any, tag: str, kind: type) -> Any:
    if isinstance(raw, dict) and set(raw) == {tag} and isinstance(raw[tag], kind):
        return raw[tag]
    raise Malformed(f"expected {tag!r}")


def _short(raw: Any) -> str:
    return repr(raw)[:40]
