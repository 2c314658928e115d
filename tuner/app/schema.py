"""The JSON Schema (draft 2020-12) of a profile file, for editors: generated from the Pydantic
models (``ProfileDoc``) and the key catalog (every known key, with its meaning, unit, bounds and,
for an enum, its values).

The models validate values after tuner's YAML reading has turned them into text; a person writes
``value: 65535`` or a list. The schema describes the file as written: numbers, text and lists
where the models take text, and the short form (``net.core.somaxconn: 65535``) beside the long
one. tuner's own checks stay the judge (bounds between keys, the running kernel, the rules); the
schema gives completion and the mistakes an editor can see.

``tuner/data/profile.schema.json`` is this schema, shipped in the wheel; a test keeps it equal to
``tuner schema``.
"""

from __future__ import annotations

from typing import Any

from tuner import __version__
from tuner.knowledge import catalog
from tuner.profile.document import ProfileDoc

DRAFT = "https://json-schema.org/draft/2020-12/schema"
SCALAR: dict[str, Any] = {"type": ["string", "integer"]}
VALUE: dict[str, Any] = {"anyOf": [SCALAR, {"type": "array", "items": SCALAR, "minItems": 1}]}


def profile_schema() -> dict[str, Any]:
    schema = ProfileDoc.model_json_schema()
    schema.pop("required", None)  # name defaults to the file name (profiles are found by it)
    schema["properties"]["name"]["description"] = (
        "The profile's name; it must be the file name without .yaml, which is its default."
    )
    defs = schema["$defs"]
    defs["SysctlSetting"]["properties"]["value"] = VALUE | {"description": "The value to set."}
    defs["ServiceSetting"]["properties"]["value"] = SCALAR | {
        "description": "As in a unit file: a number, SOFT:HARD, infinity, sizes with K..E."
    }
    defs["LimitRule"]["properties"]["value"] = {
        "anyOf": [SCALAR, {"type": "null"}],
        "description": "A number, unlimited (or -1, infinity); null removes an inherited rule.",
    }
    sysctl = schema["properties"]["sysctl"]
    setting = {"$ref": "#/$defs/SysctlSetting"}
    sysctl.pop("additionalProperties", None)
    sysctl["properties"] = {key: _key(entry, setting) for key, entry in catalog.entries().items()}
    sysctl["additionalProperties"] = {
        "anyOf": [VALUE, setting, {"type": "null"}],
        "description": "A key outside tuner's catalog: checked against the running kernel.",
    }
    directive = {"anyOf": [SCALAR, {"$ref": "#/$defs/ServiceSetting"}, {"type": "null"}]}
    services = schema["properties"]["services"]
    units = services["additionalProperties"]
    for option in units.get("anyOf", [units]):
        if option.get("type") == "object":
            names = option.get("propertyNames", {}).get("enum") or []
            option.pop("additionalProperties", None)
            option["properties"] = dict.fromkeys(names, directive)
            option["additionalProperties"] = False
    return {
        "$schema": DRAFT,
        "$id": f"https://tuner.invalid/schema/profile-{__version__}.json",
        "title": "tuner profile",
        "description": "A tuner profile: sysctls, pam_limits rules and systemd Limit*= settings.",
    } | {k: v for k, v in schema.items() if k != "title"}


def _key(entry: catalog.Entry, setting: dict[str, Any]) -> dict[str, Any]:
    """A catalog key: its meaning and unit as the description; bounds or enum values on the
    short form."""
    words = [entry.meaning]
    if entry.unit:
        words.append(f"Unit: {entry.unit}.")
    if entry.elements:
        words.append(f"Values: {', '.join(entry.elements)}.")
    if entry.default is not None:
        words.append(f"Kernel default: {entry.default}.")
    words.append(f"Scope: {entry.scope}.")
    short: dict[str, Any] = dict(VALUE)
    if entry.shape == "int":
        number: dict[str, Any] = {"type": "integer"}
        if entry.minimum is not None:
            number["minimum"] = entry.minimum
        if entry.maximum is not None:
            number["maximum"] = entry.maximum
        short = {"anyOf": [number, {"type": "string", "pattern": "^-?[0-9]+$"}]}
    elif entry.shape == "enum" and entry.values:
        short = {"enum": sorted(entry.values) + [str(v) for v in sorted(entry.values)]}
    return {"description": " ".join(words), "anyOf": [short, setting, {"type": "null"}]}
