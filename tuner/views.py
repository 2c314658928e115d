"""The one renderer of human output: each result of an operation, as text on a terminal.

Commands call an operation, then hand its result here (or to ``report.emit_json`` for
``--json``). Everything printed goes through ``report``, which escapes what the host supplied.
"""

from __future__ import annotations

import sys

from tuner import capacity, report
from tuner.library import display_path
from tuner.plan import Change, Plan
from tuner.resolve import Profile

_MARK = {"set": "~", "create": "+", "update": "~", "delete": "-", "shadowed": "!"}
_KIND = {"+": "add", "~": "change", "-": "remove", "!": "warn"}


def capacity_report(
    ceiling: capacity.Ceiling, checks: list[capacity.Check], profile: Profile
) -> None:
    style = report.Style(sys.stdout)
    intent = profile.intent
    if intent:
        spread = f"{intent.tuples} tuple(s)" if intent.role != "server" else "inbound"
        report.out(
            f"intent: {intent.role}, {intent.concurrent_connections:,} connections, {spread}"
        )
    for line in ceiling.lines():
        report.out(f"  {line}")
    for check in checks:
        mark = style("ok ", "add") if check.ok else style("GAP", "remove")
        report.out(f"  {mark} {check.name}: {check.arithmetic}")
        if not check.ok and check.fix:
            report.out(f"      to close the gap: {check.fix}")


def plan(plan: Plan) -> None:
    style = report.Style(sys.stdout)
    profile = plan.profile
    parents = f" (extends {', '.join(profile.chain[:-1])})" if len(profile.chain) > 1 else ""
    report.out(
        style(f"Plan: {profile.name}{parents}", "bold") + f"  [{display_path(profile.path)}]"
    )
    if plan.mode == "image":
        report.out(f"image mode: root {plan.root}; the running kernel is not read, files only")
    else:
        release = f" (Linux {plan.kernel_release})" if plan.kernel_release else ""
        report.out(f"host mode: root {plan.root}, kernel {plan.proc_sys}{release}")

    kernel = [c for c in plan.changes if c.layer == "kernel"]
    if plan.mode == "host":
        total = len(profile.sysctl)
        report.out(style(f"\nKernel: {len(kernel)} of {total} live values differ", "bold"))
        if kernel:
            rows = [["", "KEY", "CURRENT", "DESIRED", "UNIT"]]
            for change in kernel:
                current = change.current if change.current is not None else f"({change.action})"
                row = [_mark(change), change.key or "", current, change.desired or ""]
                rows.append([*row, change.unit or ""])
            lines = report.table(rows)
            report.out(lines[0])
            for change, line in zip(kernel, lines[1:], strict=True):
                report.out(style(line, _KIND[_mark(change)]))
                if change.why:
                    report.out(style(report.wrap(change.why, "        "), "dim"))

    if plan.capacity is not None:
        ceiling, checks = plan.capacity
        report.out(style("\nCapacity (with this profile applied)", "bold"))
        capacity_report(ceiling, checks, plan.profile)

    files = [c for c in plan.changes if c.layer == "file"]
    report.out(style(f"\nFiles: {len(files)} to write or remove", "bold"))
    for change in files:
        report.out(
            style(f"  {_mark(change)} {change.path} ({change.action})", _KIND[_mark(change)])
        )
        for line in (change.diff or "").rstrip("\n").split("\n"):
            kind = "add" if line.startswith("+") else "remove" if line.startswith("-") else "dim"
            report.out("      " + style(line, kind))

    boot = [c for c in plan.changes if c.layer == "boot"]
    if boot:
        report.out(style(f"\nBoot: {len(boot)} key(s) overridden by another file at boot", "bold"))
        for change in boot:
            text = (
                f"  ! {change.key}: {change.shadowed_by} sets {change.current}, "
                f"not {change.desired} ({', '.join(change.tools)})"
            )
            report.out(style(text, "warn"))

    if plan.diagnostics:
        report.out(style("\nFindings:", "bold"))
        report.diagnostics(plan.diagnostics)
    report.out()
    report.out(summary(plan))


def _mark(change: Change) -> str:
    return _MARK.get(change.action, "!")


def summary(plan: Plan) -> str:
    if plan.errors:
        return f"Plan has {len(plan.errors)} error(s): apply would refuse it."
    if not plan.has_changes:
        return "No changes: the host already matches the profile."
    parts = []
    if plan.mode == "host":
        parts.append(f"{plan.count('kernel', 'set')} live value(s) to set")
    for action in ("create", "update", "delete"):
        parts.append(f"{plan.count('file', action)} file(s) to {action}")
    return "Plan: " + ", ".join(parts) + "."
