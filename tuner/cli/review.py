"""The terminal's side of apply and rollback (``app.workflow.Review``): the plan or what will be
undone is shown (not with ``--json``), warnings go to stderr, and the question is asked only on
a terminal."""

from __future__ import annotations

import sys
from dataclasses import dataclass

import typer

from tuner.base.errors import TunerError
from tuner.changes.plan import Plan
from tuner.cli import report, views
from tuner.state.recovery import Choice


@dataclass(frozen=True)
class TerminalReview:
    quiet: bool = False  # --json: the document is the only output on stdout

    def show(self, proposal: Plan | Choice) -> None:
        if self.quiet:
            return
        if isinstance(proposal, Plan):
            views.plan(proposal)
        else:
            views.rollback_choice(proposal, proposal.skipped_values)

    def warn(self, message: str) -> None:
        report.warning(message)

    def confirm(self, question: str) -> bool:
        if not sys.stdin.isatty():
            raise TunerError(
                "not a terminal, so not asking: pass --yes to apply without confirmation"
            )
        return typer.confirm(question, default=False)
