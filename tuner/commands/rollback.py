"""tuner rollback: restore the state from before a generation, journaled as a generation itself."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from tuner import report
from tuner.commands._common import make_host, require_privileges
from tuner.commands.apply import confirm, reload_systemd, units_of, warn_chroot
from tuner.errors import NotFoundError, TunerError
from tuner.journal import Generation, Journal
from tuner.transaction import Target, run


def choose(journal: Journal, number: int | None) -> Generation:
    generations = journal.generations()
    if not generations:
        where = journal.host.real_path(PurePosixPath("/var/lib/tuner"))
        raise NotFoundError(f"nothing to roll back: no generations in {where}")
    if number is not None:
        for generation in generations:
            if generation.number == number:
                return generation
        raise NotFoundError(f"no generation {number} (history: 1..{generations[-1].number})")
    undone = journal.rolled_back(generations)
    for generation in reversed(generations):
        if generation.status != "failed" and generation.number not in undone:
            return generation
    raise NotFoundError("nothing to roll back: every generation is already rolled back or failed")


def run_rollback(
    root: Path | None,
    proc_sys: Path | None,
    to: int | None,
    yes: bool,
    *,
    restart_services: bool = False,
    kernel: bool = True,
) -> int:
    host = make_host(root, proc_sys, kernel=kernel)
    require_privileges(host, "rollback")
    journal = Journal(host)
    chosen = choose(journal, to)
    sysctl = dict(chosen.sysctl_before)
    if sysctl and host.image_mode:
        report.out(f"image mode: the {len(sysctl)} live value(s) of generation "
                   f"{chosen.number} are not restored; files only")  # fmt: skip
        sysctl = {}
    target = Target(
        files={PurePosixPath(p): s for p, s in chosen.files_before.items()},
        sysctl=sysctl,
        remove_dirs=tuple(PurePosixPath(d) for d in reversed(chosen.created_dirs)),
    )
    report.out(
        f"Rolling back generation {chosen.number} ({chosen.kind} {chosen.profile}, "
        f"{chosen.status}): {len(target.files)} file(s), {len(target.sysctl)} live value(s)."
    )
    for path, state in sorted(target.files.items()):
        report.out(f"  {'-' if state is None else '~'} {path}")
    for key, value in sorted(target.sysctl.items()):
        report.out(f"  ~ {key} = {value}")
    if target.sysctl:
        warn_chroot(host)
    confirm(yes)
    with host.lock():
        if to is None and choose(journal, None).number != chosen.number:
            raise TunerError("the journal changed while waiting: run rollback again")
        generation = run(
            host, journal, target, kind="rollback", profile=chosen.profile, rolls_back=chosen.number
        )
    report.out(f"Rolled back generation {chosen.number}: generation {generation.number}.")
    changed = [p for p, s in target.files.items() if chosen.files_after.get(str(p)) != s]
    done = f"generation {chosen.number} is rolled back (generation {generation.number})"
    reload_systemd(host, units_of(changed), restart_services, done)
    return 0
