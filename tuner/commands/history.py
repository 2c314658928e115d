"""tuner history: every generation, oldest first."""

from __future__ import annotations

import sys
from pathlib import Path

from tuner import report
from tuner.commands._common import make_host, require_privileges
from tuner.journal import Generation, Journal, incomplete_message


def status_of(generation: Generation, undone: set[int], effect: set[int]) -> str:
    """complete, failed, incomplete or needs recovery; for an apply, whether it is in effect."""
    if generation.number in undone:
        return "rolled back"
    status = {"pending": "incomplete", "needs-recovery": "needs recovery"}.get(
        generation.status, generation.status
    )
    return f"{status}, in effect" if generation.number in effect else status


def changed_files(generation: Generation) -> list[str]:
    after, before = generation.files_after, generation.files_before
    return sorted(p for p in after if before.get(p) != after[p])


def to_json(generation: Generation, undone: set[int], effect: set[int]) -> dict[str, object]:
    return {
        "generation": generation.number,
        "kind": generation.kind,
        "profile": generation.profile,
        "created": generation.created,
        "finished": generation.finished,
        "status": status_of(generation, undone, effect),
        "in_effect": generation.number in effect,
        "mode": generation.mode,
        "rolls_back": generation.rolls_back,
        "undoes": list(generation.reverts),
        "plan": list(generation.plan),
        "files": changed_files(generation),
        "sysctl": {
            key: {"before": generation.sysctl_before.get(key), "after": value}
            for key, value in sorted(generation.sysctl_after.items())
        },
        "error": generation.error,
    }


def prune(journal: Journal, keep: int) -> None:
    """Delete the generations older than the newest ``keep`` that nothing needs any more."""
    if not journal.generations():
        report.out("nothing to prune.", sys.stderr)
        return
    require_privileges(journal.host, "history --prune")
    with journal.host.lock():
        generations = journal.generations()
        gone = journal.prunable(generations, keep)
        for generation in gone:
            journal.remove(generation)
    if gone:
        numbers = f"{gone[0].number}" if len(gone) == 1 else f"{gone[0].number}-{gone[-1].number}"
        message = f"pruned {len(gone)} generation(s) ({numbers})"
    else:
        message = "nothing to prune"
    protected = len(generations) - len(gone) - keep
    if protected > 0:
        message += (
            f"; kept {protected} more than asked: the applies in effect, anything unfinished, "
            "and what came after them"
        )
    report.out(message + ".", sys.stderr)


def run(root: Path | None, proc_sys: Path | None, as_json: bool, keep: int | None = None) -> int:
    journal = Journal(make_host(root, proc_sys, kernel=False))
    if keep is not None:
        prune(journal, keep)
    generations = journal.generations()
    undone = journal.rolled_back(generations)
    effect = {g.number for g in journal.in_effect(generations)}
    if as_json:
        entries = [to_json(g, undone, effect) for g in generations]
        report.emit_json("history", {"generations": entries})
        return 0
    if not generations:
        report.out("no generations: nothing has been applied")
        return 0
    table = [["GEN", "WHEN", "WHAT", "STATUS", "CHANGED"]]
    for g in generations:
        reverts = ", ".join(str(n) for n in g.reverts)
        what = f"{g.kind} {g.profile}" + (f" (undoes {reverts})" if reverts else "")
        changed = f"{len(changed_files(g))} file(s), {len(g.sysctl_after)} value(s)"
        table.append([str(g.number), g.created, what, status_of(g, undone, effect), changed])
    for line in report.table(table, indent=""):
        report.out(line)
    for g in generations:
        if g.error:
            report.out(f"generation {g.number} failed: {g.error}")
    for g in journal.unsettled(generations):
        report.out(f"warning: {incomplete_message(g)}")
    return 0
