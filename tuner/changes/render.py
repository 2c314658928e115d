"""Rendering: every file tuner writes comes from a template in templates/.

Output is deterministic: keys in a safe, sorted order, limits sorted by domain and item, one
drop-in per unit. Each file starts with a header naming the profile and the tuner version.
"""

from __future__ import annotations

import functools
import textwrap
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from tuner import __version__
from tuner.base import services
from tuner.base.safetext import check_text
from tuner.changes import order
from tuner.machine.cache import file_key, memo
from tuner.profile.library import data_dir
from tuner.profile.resolved import Profile, ServiceLimit, limit_lines

if TYPE_CHECKING:
    import jinja2

SYSCTL_FILE = PurePosixPath("/etc/sysctl.d/99-tuner.conf")
LIMITS_FILE = PurePosixPath("/etc/security/limits.d/99-tuner.conf")
SYSTEMD_DIR = PurePosixPath("/etc/systemd/system")
DROPIN_NAME = "99-tuner.conf"
MANAGED_MARKER = "# Managed by tuner"


def dropin_path(unit: str) -> PurePosixPath:
    return SYSTEMD_DIR / f"{unit}.d" / DROPIN_NAME


def is_managed(text: str | None) -> bool:
    return text is not None and text.startswith(MANAGED_MARKER)


@functools.lru_cache(maxsize=4096)  # the header's description repeats in every drop-in
def _comment(text: str) -> str:
    """Text as ``#`` comment lines, wrapped; every line of input stays behind a ``#``."""
    lines = []
    for paragraph in text.split("\n"):
        lines += textwrap.wrap(paragraph, width=96, break_on_hyphens=False) or [""]
    return "\n".join(f"# {line}".rstrip() for line in lines)


def _oneline(text: object) -> str:
    """A value that must stay on its line (checked once more here, after the model did)."""
    return check_text(str(text), what="a rendered value")


def _bytecode_cache() -> jinja2.BytecodeCache | None:
    import jinja2

    try:
        return jinja2.FileSystemBytecodeCache()
    except (OSError, RuntimeError):  # no private temporary directory to be had: compile each time
        return None


@functools.cache
def environment() -> jinja2.Environment:
    import jinja2  # only when rendering: a cached render never loads Jinja

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(data_dir("templates")),
        # compiled templates are cached per user (jinja2 checks the directory is private and
        # each entry against its template's checksum): compiling costs more than a plan.
        bytecode_cache=_bytecode_cache(),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters["comment"] = _comment
    env.filters["oneline"] = _oneline
    return env


def render_files(profile: Profile) -> dict[PurePosixPath, str]:
    """Every file the profile wants on disk, path -> text. Rendering is pure (the profile, the
    templates and the version decide it), so a repeated plan takes it from the per-user cache
    and never loads Jinja."""
    templates = data_dir("templates")
    key = _digest(file_key(*sorted(templates.iterdir())), _profile_key(profile))

    return memo("render", key, lambda: _render(profile), dict[PurePosixPath, str])


def _digest(*parts: str) -> str:
    import hashlib

    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def _profile_key(profile: Profile) -> str:
    """Everything of ``profile`` that the templates read."""
    import hashlib
    import json

    data = [
        profile.name,
        profile.description,
        [(e.key.name, e.value, e.why, e.source) for e in profile.sysctl],
        [(e.domain, e.kind, e.item, e.value, e.why, e.source) for e in profile.limits],
        [(e.unit, e.directive, e.value, e.why, e.source) for e in profile.services],
    ]
    return hashlib.sha256(json.dumps(data).encode()).hexdigest()


def _render(profile: Profile) -> dict[PurePosixPath, str]:
    env = environment()
    common = {"profile": profile, "version": __version__}
    files: dict[PurePosixPath, str] = {}
    if profile.sysctl:
        entries = order.write_order(
            profile.sysctl, lambda e: e.key, lambda e: e.value, order.boot_current
        )
        template = env.get_template("sysctl.conf.j2")
        files[SYSCTL_FILE] = template.render(entries=entries, **common)
    if profile.limits:
        template = env.get_template("limits.conf.j2")
        files[LIMITS_FILE] = template.render(rules=limit_lines(profile.limits), **common)
    by_unit: dict[str, list[ServiceLimit]] = {}
    for limit in profile.services:
        by_unit.setdefault(limit.unit, []).append(limit)
    if by_unit:  # every drop-in in one render of the one template (thousands cost one context)
        units = [(u, services.section_for(u), limits) for u, limits in sorted(by_unit.items())]
        header = env.get_template("header.j2").render(**common)  # the same in every drop-in
        rendered = env.from_string(_EACH_DROPIN).render(units=units, header=header, **common)
        texts = rendered.split("\0")
        for (unit, _section, _limits), text in zip(units, texts, strict=False):
            files[dropin_path(unit)] = text
    return files


# dropin.conf.j2 for each unit, NUL after each (no rendered text holds a NUL: values are checked)
_EACH_DROPIN = (
    '{% for unit, section, limits in units %}{% include "dropin.conf.j2" %}\0{% endfor %}'
)
