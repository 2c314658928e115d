"""tuner status: which applies are in effect, anything a killed run left unsettled, and how the
host differs from what the applies recorded (content, mode, owner, live values)."""

from __future__ import annotations

from dataclasses import dataclass

from tuner.changes import drift
from tuner.machine import sessions
from tuner.machine.host import FileState, Host
from tuner.model import pamlimits
from tuner.state.journal import Generation, Journal, incomplete_message
from tuner.state.recovery import expected_after


@dataclass(frozen=True)
class Status:
    mode: str
    stack: tuple[Generation, ...]  # the applies in effect, oldest first
    applied: Generation | None
    unsettled: tuple[Generation, ...]
    drift: tuple[drift.Difference, ...] = ()
    ineffective: tuple[str, ...] = ()  # applied limits no new session can get here
    damaged: tuple[str, ...] = ()  # journal entries that cannot be read, with the way out
    running: bool = False  # another tuner run holds the lock now (drift is not looked at)

    @property
    def needs_attention(self) -> bool:
        return bool(self.drift or self.unsettled or self.ineffective or self.damaged)

    def to_json(self) -> dict[str, object]:
        return {
            "mode": self.mode,
            "applied": None if self.applied is None else self.applied.profile,
            "generation": None if self.applied is None else self.applied.number,
            "in_effect": [
                {"generation": g.number, "profile": g.profile, "status": g.status}
                for g in self.stack
            ],
            "drifted": bool(self.drift),
            "drift": [d.to_json() for d in self.drift],
            "incomplete": [_incomplete(g) for g in self.unsettled],
            "ineffective": list(self.ineffective),
            "damaged": list(self.damaged),
            "run_in_progress": self.running,
        }


def _incomplete(generation: Generation) -> str:
    return incomplete_message(generation)


def status(host: Host) -> Status:
    """The applies in effect, anything unsettled, and how the host differs from what the applies
    recorded (content, mode, owner, live values; live values not in image mode)."""
    journal = Journal(host)
    generations = journal.generations(tolerate_damage=True)
    damaged = tuple(d.message() for d in journal.damaged)
    unsettled = tuple(journal.unsettled(generations))
    stack = tuple(journal.in_effect(generations))
    applied = journal.applied(generations)
    differences: list[drift.Difference] = []
    files, values = expected_after(stack)
    if host.image_mode:
        values = {}
    running = bool(journal.writer_busy)
    if running:  # what a run in progress changes is not drift: compare with what it started on
        stack = tuple(g for g in stack if g.status != "pending")
        applied = journal.applied(list(stack))
        files, values = expected_after(stack)
        values = {} if host.image_mode else values
    if stack and not unsettled and not running:
        found = drift.observe(host, files, values)
        differences = drift.differences(files, values, *found, owners=host.caller.privileged)
    mode = "image" if host.image_mode else "host"
    ineffective = _ineffective(files, host)
    return Status(mode, stack, applied, unsettled, tuple(differences), tuple(ineffective),
                  damaged, running)  # fmt: skip


def _ineffective(files: dict[str, FileState | None], host: Host) -> list[str]:
    """The applied nofile lines no new session can get on this machine (sessions.py)."""
    if not any(path.startswith("/etc/security/limits") for path in files):
        return []
    cap = sessions.nofile_cap(host.kernel)
    if cap is None:
        return []
    found = []
    for path, state in sorted(files.items()):
        if state is None or not path.startswith("/etc/security/limits"):
            continue
        for line in pamlimits.parse_limits_conf(state.content.decode(errors="replace"), path):
            if line.item == "nofile" and sessions.capped(line.value, cap):
                found.append(
                    f"{line.where}: nofile {line.value} for {line.domain} does not take "
                    f"effect: a new session gets at most {cap.hard:,} ({cap.reason})"
                )
    return found
