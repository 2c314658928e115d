"""Vendoring: a profile flattened (extends resolved) into one self-contained YAML file.

``tuner vendor`` writes these to ``<root>/etc/tuner/profiles/`` so an image or instance can run
``tuner apply NAME`` and ``tuner status`` offline against exactly what was baked. The file carries
the tuner version and a hash of its content; validation warns when the content was edited since.
"""

from __future__ import annotations

import hashlib
from typing import Any

import yaml

from tuner import __version__
from tuner.profile.resolved import Acknowledged, Profile, limit_lines


def _setting(
    value: str, why: str | None, source: str | None, acknowledged: dict[str, str] | None = None
) -> dict[str, Any]:
    out: dict[str, Any] = {"value": value}
    if why:
        out["why"] = why
    if source:
        out["source"] = source
    if acknowledged:
        out["acknowledge"] = acknowledged
    return out


def _reasons(acknowledged: Acknowledged) -> dict[str, str]:
    return {a.rule: a.reason for a in acknowledged}


def flatten(profile: Profile) -> dict[str, Any]:
    """The profile as a document with no extends: every value, why and source in place."""
    doc: dict[str, Any] = {"name": profile.name, "description": profile.description}
    if profile.intent is not None:
        doc["intent"] = {k: v for k, v in profile.intent.to_json().items() if v is not None}
    if profile.sysctl:
        doc["sysctl"] = {
            e.key.name: _setting(e.value, e.why, e.source, _reasons(e.acknowledged))
            for e in profile.sysctl
        }
    if profile.limits:
        doc["limits"] = [
            {"domain": line.domain, "type": line.type, "item": line.item}
            | _setting(line.value, line.why, line.source, line.acknowledged)
            for line in limit_lines(profile.limits)
        ]
    if profile.services:
        services: dict[str, dict[str, dict[str, Any]]] = {}
        for limit in profile.services:
            services.setdefault(limit.unit, {})[limit.directive] = _setting(
                limit.value, limit.why, limit.source, _reasons(limit.acknowledged)
            )
        doc["services"] = services
    if profile.acknowledged:
        doc["acknowledge"] = _reasons(profile.acknowledged)
    return doc


def _dump(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, width=100, allow_unicode=True)


def content_hash(body: dict[str, Any]) -> str:
    """sha256 of the document's canonical YAML text, without its vendored block."""
    return hashlib.sha256(_dump(body).encode()).hexdigest()


def vendored_text(profile: Profile) -> str:
    body = flatten(profile)
    stamp = {
        "tuner_version": __version__,
        "content_sha256": content_hash(body),
        "chain": list(profile.chain),
    }
    header = (
        f"# Vendored by tuner {__version__} from {' + '.join(profile.chain)}: extends flattened.\n"
        "# `tuner apply NAME` and `tuner status` use this file offline; edit the source profiles\n"
        "# and vendor again rather than editing it (validation warns when its content changed).\n"
    )
    return header + _dump({**body, "vendored": stamp})
