"""tuner apply: show the plan, then change exactly what it shows, all or nothing."""

from __future__ import annotations

import os
from pathlib import Path

from tuner.app import ops
from tuner.base.errors import TunerError
from tuner.changes.plan import Plan
from tuner.cli import report, views
from tuner.cli.common import confirm, make_host, require_privileges, warn_chroot
from tuner.machine import systemd
from tuner.machine.host import Host
from tuner.state import savedplan
from tuner.state.journal import Journal


def run_apply(
    ref: str,
    root: Path | None,
    proc_sys: Path | None,
    *,
    strict: bool,
    yes: bool,
    dry_run: bool,
    restart_services: bool,
    kernel: bool = True,
    as_json: bool = False,
) -> int:
    saved: tuple[savedplan.Basis, list[dict[str, object]]] | None = None
    host = make_host(root, proc_sys, kernel=kernel)
    if savedplan.looks_saved(ref):
        saved = _saved(Path(ref), host)
        ref = saved[0].ref
        yes = True  # the plan was reviewed when it was saved: apply exactly it, or refuse
    if not dry_run:
        ops.refuse_unsettled(Journal(host))
    plan = ops.prepare_apply(ref, host, strict=strict)
    if saved is not None:
        _refuse_stale(*saved, plan, host)
    if not as_json:
        views.plan(plan)
    if dry_run or not plan.has_changes:
        if as_json:
            report.emit_json("apply", _body(plan, None, []))
        elif dry_run:
            report.out("\nDry run: nothing was changed.")
        return 0  # with no changes, the summary line already said "No changes"
    blockers = ops.blockers(plan)
    if blockers:
        raise TunerError("cannot apply: " + "; ".join(blockers))
    require_privileges(host, "apply")
    warn_chroot(host, plan)
    confirm(yes)
    result = ops.apply_commit(plan, host)
    name, number = result.generation.profile, result.generation.number
    done = f"{name} is applied (generation {number})"
    said = systemd.reload(host, list(result.units), restart_services, done)
    if as_json:
        report.emit_json("apply", _body(plan, result, said))
        return 0
    report.out(f"\nApplied {name}: generation {number}.")
    for line in said:
        report.out(line)
    return 0


def _saved(path: Path, host: Host) -> tuple[savedplan.Basis, list[dict[str, object]]]:
    """The saved plan's basis and pending changes. Where it applies is the command line's to say
    (``--root``, ``--proc-sys``, ``--no-kernel``; / and the running kernel by default), never the
    file's: a plan made for another root or kernel tree is refused, naming the options to give."""
    basis, pending = savedplan.load(path)
    here = {"--root": str(host.root), "--proc-sys": None if host.proc_sys is None else
            str(host.proc_sys)}  # fmt: skip
    planned = {"--root": basis.root, "--proc-sys": basis.proc_sys}
    moved = [o for o in here if not _same_place(here[o], planned[o])]
    if moved or basis.kernel != host.kernel.available:
        here_said = savedplan.options(str(host.root), here["--proc-sys"]) or "no options"
        planned_said = savedplan.options(basis.root, basis.proc_sys) or "no options"
        raise TunerError(
            f"{path} was planned for {planned_said} (/ and its running kernel when none), but "
            f"this command has {here_said}: nothing was changed. A plan applies only where it "
            "was made: "
            f"{savedplan.apply_command(path, basis)}"
        )
    return basis, pending


def _same_place(a: str | None, b: str | None) -> bool:
    if a is None or b is None:
        return a == b
    return os.path.realpath(a) == os.path.realpath(b)


def _refuse_stale(
    saved: savedplan.Basis, pending: list[dict[str, object]], plan: Plan, host: Host
) -> None:
    """Exit 1, naming every difference, when the host or the profile moved since the plan."""
    moved = savedplan.changes_since(saved, savedplan.basis_of(plan, saved.ref, host))
    if not moved and ops.summary_of(plan) != pending:
        moved = ["the changes the plan would make are different now"]
    if moved:
        raise TunerError(
            "the saved plan is stale, nothing was changed (plan again):\n"
            + "\n".join(f"  {line}" for line in moved)
        )


def _body(plan: Plan, result: ops.Applied | None, said: list[str]) -> dict[str, object]:
    """``apply --json``: whether anything changed, what (the plan's pending changes), the
    generation, and what systemd was asked to do."""
    body: dict[str, object] = {"changed": result is not None, "profile": plan.profile.name,
                               "mode": plan.mode, "root": plan.root}  # fmt: skip
    body |= result.to_json() if result else {"generation": None, "units": []}
    return body | {"changes": [c.to_json() for c in plan.pending], "systemd": said}
