"""The one renderer of human output: each result of an operation, as text on a terminal.

Commands call an operation, then hand its result here (or to ``report.emit_json`` for
``--json``). Everything printed goes through ``report``, which escapes what the host supplied.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from tuner.base.errors import NotFoundError
from tuner.base.limits import Rlimit
from tuner.base.wording import plural
from tuner.changes.plan import Change, Plan
from tuner.cli import report
from tuner.knowledge import capacity as capacity_model
from tuner.knowledge import diagnosis
from tuner.profile.library import data_dir, display_path
from tuner.profile.resolved import Profile
from tuner.state.journal import incomplete_message

if TYPE_CHECKING:  # the results' types only: ``plan`` must not load what doctor needs
    from tuner.app.apply import Applied
    from tuner.app.capacity import CapacityReport
    from tuner.app.doctor import Doctor
    from tuner.app.history import History
    from tuner.app.rollback import RolledBack
    from tuner.app.status import Status
    from tuner.changes.drift import Difference
    from tuner.state import recovery

_MARK = {"set": "~", "create": "+", "update": "~", "delete": "-", "shadowed": "!"}
_KIND = {"+": "add", "~": "change", "-": "remove", "!": "warn"}


def capacity_report(
    ceiling: capacity_model.Ceiling, checks: list[capacity_model.Check], profile: Profile
) -> None:
    style = report.Style(sys.stdout)
    intent = profile.intent
    if intent:
        spread = plural(intent.tuples, "tuple") if intent.role != "server" else "inbound"
        report.out(
            f"intent: {intent.role}, {intent.concurrent_connections:,} connections, {spread}"
        )
    for line in ceiling.lines():
        report.out(f"  {line}")
    for check in checks:
        mark = (
            style("est", "dim")
            if check.estimate
            else style("ok ", "add")
            if check.ok
            else style("GAP", "remove")
        )
        report.out(f"  {mark} {check.name}: {check.arithmetic}")
        if not check.ok and check.fix:
            report.out(f"      to close the gap: {check.fix}")


def plan(plan: Plan, *, full: bool = False, ref: str | None = None) -> None:
    """The plan: compact by default (the changes table, a line per file with its +/- counts,
    boot overrides, the capacity verdict); ``full`` adds why each value, the file diffs and the
    capacity arithmetic. With ``ref`` (tuner plan), end with what to run next."""
    style = report.Style(sys.stdout)
    profile = plan.profile
    report.out(style(f"Plan: {profile_label(profile)}", "bold"))
    if plan.mode == "image":
        report.out(f"image mode: root {plan.root}; the running kernel is not read, files only")
    else:
        release = f" (Linux {plan.kernel_release})" if plan.kernel_release else ""
        report.out(f"host mode: root {plan.root}, kernel {plan.proc_sys}{release}")

    _kernel_changes(plan, style, full=full)
    _file_changes(plan, style, full=full)

    boot = [c for c in plan.changes if c.layer == "boot"]
    if boot:
        overridden = plural(len(boot), "key")
        report.out(style(f"\nBoot: {overridden} overridden by another file at boot", "bold"))
        for change in boot:
            text = (
                f"  ! {change.key}: {change.shadowed_by} sets {change.current}, "
                f"not {change.desired} ({', '.join(change.tools)})"
            )
            report.out(style(text, "warn"))

    if plan.capacity is not None:
        ceiling, checks = plan.capacity
        if full:
            report.out(style("\nCapacity (with this profile applied)", "bold"))
            capacity_report(ceiling, checks, plan.profile)
        else:
            report.out("\n" + _capacity_verdict(checks, profile))

    if plan.diagnostics:
        report.out(style("\nFindings:", "bold"))
        report.diagnostics(plan.diagnostics)
    report.out()
    report.out(summary(plan))
    step = next_step(plan, ref, full=full) if ref is not None else None
    if step:
        report.out(step)


def _kernel_changes(plan: Plan, style: report.Style, *, full: bool) -> None:
    kernel = [c for c in plan.changes if c.layer == "kernel"]
    if plan.mode == "host":
        total = len(plan.profile.sysctl)
        differ = "differs" if len(kernel) == 1 else "differ"
        report.out(style(f"\nKernel: {len(kernel)} of {plural(total, 'live value')} "
                         f"{differ}", "bold"))  # fmt: skip
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
                if full and change.why:
                    report.out(style(report.wrap(change.why, "        "), "dim"))


def _file_changes(plan: Plan, style: report.Style, *, full: bool) -> None:
    files = [c for c in plan.changes if c.layer == "file"]
    report.out(style(f"\nFiles: {len(files)} to write or remove", "bold"))
    for change in files:
        added, removed = _counts(change.diff)
        counts = f"+{added}" + (f" -{removed}" if removed else "")
        what = f"{counts} lines" if change.diff else "content unchanged"
        note = f"; {change.note}" if change.note else ""
        line = f"  {_mark(change)} {change.path} ({change.action}, {what}{note})"
        report.out(style(line, _KIND[_mark(change)]))
        if full:
            for text in (change.diff or "").rstrip("\n").split("\n"):
                kind = (
                    "add" if text.startswith("+") else "remove" if text.startswith("-") else "dim"
                )
                report.out("      " + style(text, kind))


def profile_label(profile: Profile) -> str:
    """ "haproxy-2m-conns (bundled, extends base)", or the file of a site or path profile."""
    parents = f", extends {', '.join(profile.chain[:-1])}" if len(profile.chain) > 1 else ""
    try:
        bundled = profile.path.resolve().is_relative_to(data_dir("profiles").resolve())
    except NotFoundError:
        bundled = False
    where = "bundled" if bundled else display_path(profile.path)
    return f"{profile.name} ({where}{parents})"


def _counts(diff: str | None) -> tuple[int, int]:
    lines = (diff or "").split("\n")
    added = sum(1 for x in lines if x.startswith("+") and not x.startswith("+++"))
    removed = sum(1 for x in lines if x.startswith("-") and not x.startswith("---"))
    return added, removed


def _capacity_verdict(checks: list[capacity_model.Check], profile: Profile) -> str:
    intent = profile.intent
    gaps = [c.name for c in checks if not c.ok]
    what = (
        f"{intent.role}, {intent.concurrent_connections:,} connections" if intent else "no intent"
    )
    more = f"`tuner capacity {profile.name}` shows the arithmetic"
    if gaps:
        return f"Capacity ({what}): NOT met: {'; '.join(gaps)}. {more}."
    estimates = sum(1 for c in checks if c.estimate)
    shown = f" and {plural(estimates, 'estimate')}" if estimates else ""
    met = plural(len(checks) - estimates, "check")
    return f"Capacity ({what}): met ({met} pass{shown}). {more}."


def next_step(plan: Plan, ref: str, *, full: bool) -> str | None:
    """What was not done, and what to run next (nothing to say when nothing would change)."""
    where = "" if plan.root == "/" else f" --root {plan.root}"
    if plan.proc_sys is not None and plan.proc_sys != "/proc/sys":
        where += f" --proc-sys {plan.proc_sys}"
    if plan.errors:
        return "Nothing was changed. Fix the errors above, then plan again."
    if not plan.has_changes:
        return None
    diff = "" if full else f" Every value and file in full: tuner plan {ref}{where} --diff."
    return f"Nothing was changed. To apply: tuner apply {ref}{where}.{diff}"


def _mark(change: Change) -> str:
    return _MARK.get(change.action, "!")


def summary(plan: Plan) -> str:
    if plan.errors:
        return f"Plan has {plural(len(plan.errors), 'error')}: apply would refuse it."
    if not plan.has_changes:
        return "No changes: the host already matches the profile."
    parts = []
    if plan.mode == "host" and plan.count("kernel", "set"):
        parts.append(f"{plural(plan.count('kernel', 'set'), 'live value')} to set")
    for action in ("create", "update", "delete"):
        if plan.count("file", action):
            parts.append(f"{plural(plan.count('file', action), 'file')} to {action}")
    return "Plan: " + ", ".join(parts) + "."


def capacity(result: CapacityReport) -> None:
    profile = result.profile
    report.out(f"Capacity: {profile.name}")
    capacity_report(result.ceiling, list(result.checks), profile)
    if result.diagnostics:
        report.out("\nFindings:")
        report.diagnostics(result.diagnostics)
    if profile.intent is None:
        report.out(
            "No intent declared, so nothing to meet: add intent: {role, concurrent_connections, "
            "...} to check one."
        )
    else:
        report.out("Intent met." if result.met else "Intent NOT met: see the gaps above.")


def status(result: Status, *, full: bool = False) -> None:
    if result.running:
        report.out("A tuner run is in progress (it holds the lock): drift is not looked at until "
                   "it ends.")  # fmt: skip
    for line in result.damaged:
        report.out(f"warning: {line}")
    for generation in result.unsettled:
        report.out(f"warning: {incomplete_message(generation)}")
    applied = result.applied
    if applied is None:
        report.out("No profile applied.")
        return
    report.out(f"Applied: {applied.profile} (generation {applied.number}, {applied.finished})")
    below = [f"{g.profile} (generation {g.number})" for g in reversed(result.stack[:-1])]
    if below:
        report.out(f"  on top of: {', '.join(below)}; `tuner rollback` undoes one at a time")
    if result.mode == "image":
        report.out("image mode: files only, the running kernel is not read")
    if not result.drift and not result.unsettled and not result.running:
        report.out("No drift: files and live values are as applied.")
    for line in result.ineffective:
        report.out(f"warning: {line}")
    drift_lines(result.drift, full=full)


def history(result: History) -> None:
    if result.quarantined:
        report.out(f"moved the damaged entry to {result.quarantined}", sys.stderr)
    for line in result.damaged:
        report.out(f"warning: {line}")
    if result.prune_asked:
        report.out(pruned(result), sys.stderr)
    if not result.generations:
        report.out("no generations: nothing has been applied")
        return
    rows = [["GEN", "WHEN", "WHAT", "STATUS", "CHANGED"]]
    for g in result.generations:
        reverts = ", ".join(str(n) for n in g.reverts)
        what = f"{g.kind} {g.profile}" + (f" (undoes {reverts})" if reverts else "")
        changed = f"{plural(len(g.changed_files), 'file')}, {plural(len(g.sysctl_after), 'value')}"
        rows.append([str(g.number), g.created, what, result.status_of(g), changed])
    for line in report.table(rows, indent=""):
        report.out(line)
    for g in result.generations:
        if g.error:
            report.out(f"generation {g.number} failed: {g.error}")
    for g in result.unsettled:
        report.out(f"warning: {incomplete_message(g)}")


def pruned(result: History) -> str:
    gone = result.pruned
    if not gone and not result.generations:
        return "nothing to prune."
    if gone:
        numbers = f"{gone[0]}" if len(gone) == 1 else f"{gone[0]}-{gone[-1]}"
        message = f"pruned {plural(len(gone), 'generation')} ({numbers})"
    else:
        message = "nothing to prune"
    if result.kept_extra:
        message += (
            f"; kept {result.kept_extra} more than asked: the applies in effect, anything "
            "unfinished, and what came after them"
        )
    return message + "."


def rollback_preview(shown: recovery.Preview) -> None:
    """What a rollback changes on the host as it is now, and what it would discard."""
    choice = shown.choice
    if choice.skipped_values:
        report.out(f"image mode: {plural(choice.skipped_values, 'live value')} not restored; "
                   "files only")  # fmt: skip
    files = [s for s in shown.steps if s.path is not None]
    values = [s for s in shown.steps if s.key is not None]
    said = [plural(len(files), "file")] if files else []
    said += [plural(len(values), "live value")] if values else []
    report.out(f"{choice.describe()}: {', '.join(said) or 'nothing to change on this host'}.")
    for step in shown.steps:
        report.out(f"  {step}")
    if shown.discarded:
        report.out("Changed since, and discarded by this rollback:")
        drift_lines(shown.discarded)


def drift_lines(found: tuple[Difference, ...], *, full: bool = False) -> None:
    """Each difference, and for a file's content the lines added and removed (``full``: the
    unified diff)."""
    for difference in found:
        report.out(f"  drift: {difference}")
        if full and difference.diff:
            for line in difference.diff:
                report.out(f"    {line}")
            continue
        shown = [f"+ {line}" for line in difference.added] + [f"- {line}" for line in
                                                                difference.removed]  # fmt: skip
        for line in shown[:10]:
            report.out(f"      {line}")
        if len(shown) > 10:
            report.out(f"      ... {len(shown) - 10} more: tuner status --diff")


def rolled_back(result: RolledBack) -> None:
    """What rollback did, then what systemd was asked to do."""
    number = result.generation.number
    if result.choice.resume is not None:
        report.out(f"Finished generation {number}.")
    else:
        report.out(f"Rolled back {result.undone}: recorded as generation {number}.")
    for line in result.systemd:
        report.out(line)


def applied(result: Applied) -> None:
    """What apply did (the plan was shown before it was confirmed)."""
    if result.generation is None:
        if result.dry_run:
            report.out("\nDry run: nothing was changed.")
        if result.in_effect is not None:
            report.out(f"This plan is applied already (generation {result.in_effect.number}, "
                       f"{result.in_effect.profile}): nothing was changed.")  # fmt: skip
        return  # with no changes, the plan's summary line already said "No changes"
    report.out(f"\nApplied {result.generation.profile}: generation {result.generation.number}.")
    for line in result.systemd:
        report.out(line)


def doctor(result: Doctor, top: int = 5) -> None:
    style = report.Style(sys.stdout)
    seen = result.seen
    census = seen.census
    where = seen.namespace or "unknown"
    if seen.initial_namespace is False:
        where += " (not the host's initial namespace: what follows is this namespace's)"
    elif seen.initial_namespace:
        where += " (the host's)"
    if seen.container:
        where += f"; in a {seen.container} container"
    report.out(style("Doctor", "bold") + f": network namespace {where}")
    states = ", ".join(f"{name} {count:,}" for name, count in
                       sorted(census.states.items(), key=lambda s: -s[1]))  # fmt: skip
    families = ", ".join(f"{k.replace('ipv', 'IPv')} {v:,}" for k, v in census.families.items())
    report.out(f"TCP sockets: {census.total:,} ({families or 'none'}): {states or 'none'}")
    report.out(f"  accepted from listeners: {census.inbound:,}; outbound tuples: "
               f"{len(census.tuples):,}")  # fmt: skip
    rows = diagnosis.tuple_rows(seen)[:top]
    if rows:
        report.out(f"Ephemeral ports per tuple: {seen.space.arithmetic}")
        report.out("Outbound tuples, fullest first (ports held of usable; TIME_WAIT, reusable):")
        for row in rows:
            report.out(
                f"  {row['src']} -> {diagnosis.endpoint(str(row['dst']), int(str(row['dport'])))}"
                f"  {row['held']:,} of {row['usable']:,} ({row['percent']}%); "
                f"TIME_WAIT {row['time_wait']:,}, reusable {row['reusable']:,}"
            )
    body = result.to_json()
    tw, fds, listen = body["time_wait"], body["descriptors"], body["listen"]
    assert isinstance(tw, dict) and isinstance(fds, dict) and isinstance(listen, dict)
    report.out(f"TIME-WAIT: {_n(tw['total'])}, closed FIN-WAIT-2: {_n(tw['fin_wait_2'])}; "
               f"timewait sockets {_n(tw['timewait_sockets'])} of tcp_max_tw_buckets "
               f"{_n(tw['max_tw_buckets'])}")  # fmt: skip
    report.out(f"  {seen.reuse.describe()}")
    report.out(f"Descriptors: {_n(fds['file_nr'])} open of fs.file-max {_n(fds['file_max'])}")
    for process in seen.processes.closest[:top]:
        unit = f" ({process.unit})" if process.unit else ""
        soft = str(Rlimit(process.soft))
        report.out(f"  {process.name}[{process.pid}]{unit}: {process.open:,} of {soft} "
                   f"({process.percent:.1f}%)")  # fmt: skip
    report.out(f"Listen queues: somaxconn {_n(listen['somaxconn'])}; overflows "
               f"{_n(listen['listen_overflows'])}, drops {_n(listen['listen_drops'])}")  # fmt: skip
    orphans, conntrack = body["orphans"], body["conntrack"]
    assert isinstance(orphans, dict) and isinstance(conntrack, dict)
    tracked = (
        f"{_n(conntrack['count'])} of {_n(conntrack['max'])}"
        if conntrack["max"] is not None else "not loaded"
    )  # fmt: skip
    limit = (
        f"of {_n(orphans['max'])}"
        if orphans["max"] is not None
        else "(tcp_max_orphans is not visible in this namespace)"
    )
    report.out(f"Orphans: {_n(orphans['count'])} {limit}; conntrack: {tracked}")
    for note in seen.notes:
        report.out(style(f"note: {note}", "dim"))
    report.out("")
    _findings(result, style)


def _findings(result: Doctor, style: report.Style) -> None:
    if not result.findings:
        report.out("No findings: nothing here is near a limit.")
        return
    colour = {"critical": "remove", "warning": "warn", "info": "dim"}
    for finding in result.findings:
        mark = style(finding.severity.upper(), colour[finding.severity])
        report.out(f"{mark} {finding.id}: {finding.summary}")
        for line in finding.fix.lines():
            report.out(f"    fix: {line}")
        if finding.advice:
            report.out(report.wrap(finding.advice, "    "))
        if finding.profiles:
            report.out(f"    set by bundled profile: {', '.join(finding.profiles)}")
        if finding.verdict:
            report.out(f"    with {result.profile}: {finding.verdict}")
    counts = {s: sum(f.severity == s for f in result.findings) for s in diagnosis.SEVERITIES}
    report.out("\n" + ", ".join(f"{n} {s}" for s, n in counts.items() if n) + ".")


def _n(number: object) -> str:
    return f"{number:,}" if isinstance(number, int) else "unknown"
