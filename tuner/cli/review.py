"""The terminal's side of apply and rollback (``app.workflow.Review``): the plan or what will be
undone is shown (not with ``--json``), warnings go to stderr, and the question is asked only on
a terminal."""

from __future__ import annotations

import sys
from dataclasses import dataclass

import typer

from tuner.changes.plan import Plan
from tuner.cli import report, views
from tuner.state.recovery import Preview


@dataclass(frozen=True)
class TerminalReview:
    quiet: bool = False  # --json or --quiet: the plan is not shown, so nobody is asked

    def show(self, proposal: Plan | Preview) -> None:
        if self.quiet:
            return
        if isinstance(proposal, Plan):
            views.plan(proposal)
        else:
            views.rollback_preview(proposal)

    def warn(self, message: str) -> None:
        report.warning(message)

    def confirm(self, question: str) -> bool | None:
        if self.quiet or not sys.stdin.isatty():  # nobody saw what they would agree to
            return None
        return typer.confirm(question, default=False)
