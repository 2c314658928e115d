"""tuner explain KEY|RULE-ID: the catalog entry or the rule, the live value, who sets it."""

from __future__ import annotations

from typing import Annotated

import typer

from tuner.app.explain import KeyExplained, RuleExplained
from tuner.app.explain import explain as explain_subject
from tuner.cli import report
from tuner.cli.options import HostOptions, JsonOpt, ProcSysOpt, QuietOpt, RootOpt, verb
from tuner.knowledge import catalog

app = verb()


@app.command("explain")
def explain(
    subject: Annotated[
        str,
        typer.Argument(
            metavar="KEY|RULE-ID",
            help="A sysctl key from the catalog (net.core.somaxconn) or a rule id.",
            show_default=False,
        ),
    ],
    *,
    root: RootOpt = None,
    proc_sys: ProcSysOpt = None,
    json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> int:
    """A key from the catalog or a rule, in plain words, with the live value and who sets it."""
    where = HostOptions(root, proc_sys)
    result = explain_subject(subject, where.host(), where.library())
    if json:
        report.emit_json("explain", result.to_json())
    elif isinstance(result, RuleExplained):
        render_rule(result)
    elif result.entry is None:
        render_uncatalogued(result)
    else:
        render_key(result)
    return 0


def render_rule(result: RuleExplained) -> None:
    found = result.rule
    report.out(f"rule {found.id} ({found.severity})")
    report.out(report.wrap(found.summary, "  "))
    report.out(f"  source: {found.source}")
    report.out(report.wrap(f"acknowledge: {result.how}", "  "))


def render_uncatalogued(result: KeyExplained) -> None:
    report.out(f"{result.name} (not in tuner's catalog)")
    report.out(report.wrap("tuner knows no meaning, bounds or default for this key: the "
                           "kernel's documentation (Documentation/admin-guide/sysctl/, "
                           "Documentation/networking/ip-sysctl.rst) does.", "  "))  # fmt: skip
    _live_and_setters(result)


def render_key(result: KeyExplained) -> None:
    entry = result.entry
    assert entry is not None
    report.out(f"{entry.key} ({entry.scope} key{', ' + entry.unit if entry.unit else ''})")
    report.out(report.wrap(entry.meaning, "  "))
    report.out(f"  shape: {_shape(entry)}")
    default = _default_text(entry, result.release)
    note = f" ({entry.default_note})" if entry.default_note else ""
    report.out(f"  kernel default: {default or '(empty)'}{note}")
    if entry.inherited:
        report.out("  a new network namespace copies the initial namespace's value")
    for label, version in (("appeared in Linux", entry.since), ("removed in Linux", entry.removed)):
        if version:
            report.out(f"  {label} {version}")
    if entry.module:
        report.out(f"  exists only while the {entry.module} module is loaded")
    _live_and_setters(result)
    report.out(f"  source: {entry.source}")


def _live_and_setters(result: KeyExplained) -> None:
    """The live value (or why it was not read) and the profiles that set the key."""
    if result.read:
        value = result.live_value
        report.out(
            f"  live value: {value if value is not None else '(this kernel has no such key)'}"
        )
    else:
        report.out("  live value: not read (image mode)")
    setters = result.setters
    report.out("  set by profiles: " + (", ".join(map(str, setters)) if setters else "none"))


def _shape(entry: catalog.Entry) -> str:
    bounds = ""
    if entry.minimum is not None or entry.maximum is not None:
        low = entry.minimum if entry.minimum is not None else "-inf"
        high = entry.maximum if entry.maximum is not None else "inf"
        bounds = f", {low}..{high}"
    if entry.shape == "enum":
        return "one of " + "; ".join(f"{k} = {v}" for k, v in sorted(entry.values.items()))
    if entry.shape == "vector":
        return f"{len(entry.elements)} integers: {', '.join(entry.elements)}{bounds}"
    if entry.shape == "portlist":
        return "a comma-separated list of ports and ranges (e.g. 8080,9000-9010)"
    return f"{entry.shape}{bounds}"


def _default_text(entry: catalog.Entry, release: str | None) -> str:
    """The boot default on this kernel, with the versions where it changed."""
    constant = entry.default_for(release)
    if constant is None:
        return "depends on the machine"
    if not entry.default_since:
        return constant
    history = ", ".join(f"{v} since {'.'.join(map(str, s))}" for s, v in entry.default_since)
    return f"{constant} on {release or 'recent kernels'} ({entry.default} before; {history})"
