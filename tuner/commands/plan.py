"""tuner plan: what apply would change, read-only."""

from __future__ import annotations

import sys
from pathlib import Path

from tuner import errors, report
from tuner.commands._common import incomplete_warnings, load_checked, make_host
from tuner.commands.capacity import print_capacity_report
from tuner.diagnostics import Diagnostic
from tuner.errors import ProfileError
from tuner.library import display_path
from tuner.live import LiveKernel
from tuner.plan import Change, Plan, make_plan

_MARK = {"set": "~", "create": "+", "update": "~", "delete": "-", "shadowed": "!"}
_KIND = {"+": "add", "~": "change", "-": "remove", "!": "warn"}


def run(
    ref: str,
    root: Path | None,
    proc_sys: Path | None,
    strict: bool,
    as_json: bool,
    detailed_exitcode: bool,
    kernel: bool = True,
) -> int:
    host = make_host(root, proc_sys, kernel=kernel)
    live = LiveKernel(host)  # read once, for the rules and the plan
    try:
        profile, diagnostics = load_checked(ref, host, strict=strict, live=live)
    except ProfileError as exc:
        if not as_json:
            raise
        report.emit_json(
            "plan",
            {
                "profile": ref,
                "changes": [],
                "warnings": [d.to_json() for d in exc.diagnostics if d.severity != "error"],
                "errors": [d.to_json() for d in exc.diagnostics if d.severity == "error"],
            },
        )
        return errors.EXIT_ERROR
    found = diagnostics + incomplete_warnings(host)
    chroot = host.chroot_warning()
    if chroot:
        found.append(Diagnostic("warning", chroot, None, None, "chroot"))
    result = make_plan(profile, host, found, live)
    if as_json:
        report.emit_json("plan", result.to_json())
    else:
        print_plan(result)
    if result.errors:
        return errors.EXIT_ERROR
    if detailed_exitcode and result.has_changes:
        return errors.EXIT_CHANGES
    return errors.EXIT_OK


def print_plan(plan: Plan) -> None:
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
        print_capacity_report(ceiling, checks, plan.profile)

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
