"""tuner apply: show the plan, then change exactly what it shows, all or nothing."""

from __future__ import annotations

from pathlib import Path

from tuner import ops, report, savedplan, systemd, views
from tuner.commands._common import confirm, make_host, require_privileges, warn_chroot
from tuner.errors import TunerError
from tuner.host import Host
from tuner.journal import Journal
from tuner.plan import Plan


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
    if savedplan.looks_saved(ref):
        saved = _saved(Path(ref), root, proc_sys, kernel)
        basis = saved[0]
        ref = basis.ref
        root, proc_sys, kernel = Path(basis.root), _path(basis.proc_sys), basis.kernel
        yes = True  # the plan was reviewed when it was saved: apply exactly it, or refuse
    host = make_host(root, proc_sys, kernel=kernel)
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


def _saved(
    path: Path, root: Path | None, proc_sys: Path | None, kernel: bool
) -> tuple[savedplan.Basis, list[dict[str, object]]]:
    """The saved plan's basis and pending changes; the host options, if given, must be the
    plan's."""
    basis, pending = savedplan.load(path)
    given = {"--root": (root, basis.root), "--proc-sys": (proc_sys, basis.proc_sys)}
    for option, (value, planned) in given.items():
        if value is not None and str(value) != planned:
            raise TunerError(f"{path} was planned with {option} {planned}, not {value}")
    if not kernel and basis.kernel:
        raise TunerError(f"{path} was planned with the running kernel: --no-kernel cannot apply it")
    return basis, pending


def _path(text: str | None) -> Path | None:
    return None if text is None else Path(text)


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
