"""status and doctor as Prometheus metrics: the text exposition format node_exporter's textfile
collector reads (``--format prometheus``, ``--textfile PATH``), and the same figures in
``--json`` (``metrics``), which the Ansible collection returns. status's figures are here;
doctor's beside it (``doctor.families``), so that status never loads what doctor needs.

Names follow Prometheus' conventions: the ``tuner_`` prefix, base units (seconds, ratios from 0
to 1), ``_total`` only on counters (the kernel's own monotonic ones), ``_info`` for a metric
whose labels are the information (value 1). Every family is written even at 0, so that an alert
can tell "no drift" from "no report".
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from tuner import __version__
from tuner.base.errors import TunerError
from tuner.changes.drift import ASPECTS
from tuner.machine.rootfs import write_outside

if TYPE_CHECKING:  # the result's type only
    from tuner.app.status import Status


@dataclass(frozen=True)
class Sample:
    labels: dict[str, str]
    value: float


@dataclass(frozen=True)
class Family:
    name: str
    kind: str  # gauge | counter
    help: str
    samples: list[Sample] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "type": self.kind,
            "help": self.help,
            "samples": [{"labels": s.labels, "value": s.value} for s in self.samples],
        }


def one(name: str, help_: str, value: float, kind: str = "gauge") -> Family:
    return Family(name, kind, help_, [Sample({}, value)])


def common() -> list[Family]:
    return [
        Family(
            "tuner_build_info",
            "gauge",
            "The tuner that wrote these metrics (value 1).",
            [Sample({"version": __version__}, 1)],
        ),
        one(
            "tuner_report_timestamp_seconds",
            "When tuner computed these metrics.",
            round(time.time(), 3),
        ),
    ]


def status_families(result: Status) -> list[Family]:
    applied = result.applied
    info = Family(
        "tuner_applied_info",
        "gauge",
        "The profile in effect, its generation and mode (value 1; no sample when none).",
    )
    if applied is not None:
        info.samples.append(
            Sample(
                {
                    "profile": applied.profile,
                    "generation": str(applied.number),
                    "mode": result.mode,
                },
                1,
            )
        )
    kinds = dict.fromkeys(ASPECTS, 0)
    for difference in result.drift:
        kinds[difference.aspect] = kinds.get(difference.aspect, 0) + 1
    return [
        *common(),
        info,
        one(
            "tuner_applied_generation",
            "The generation of the apply in effect (0: none).",
            applied.number if applied is not None else 0,
        ),
        one(
            "tuner_applies_in_effect",
            "How many applies are in effect (stacked).",
            len(result.stack),
        ),
        Family(
            "tuner_drift_differences",
            "gauge",
            "Managed files and live values that differ from what was applied, by kind.",
            [Sample({"kind": kind}, count) for kind, count in sorted(kinds.items())],
        ),
        one(
            "tuner_unsettled_runs",
            "Runs a killed tuner left unfinished (tuner rollback settles them).",
            len(result.unsettled),
        ),
        one(
            "tuner_ineffective_limits",
            "Applied nofile limits that no new session can get on this host.",
            len(result.ineffective),
        ),
        one(
            "tuner_damaged_journal_entries",
            "Journal entries tuner cannot read.",
            len(result.damaged),
        ),
        one(
            "tuner_run_in_progress",
            "1 while another tuner run holds the lock (drift is not looked at then).",
            int(result.running),
        ),
    ]


def exposition(families: Iterable[Family]) -> str:
    """The text exposition format, version 0.0.4."""
    lines = []
    for family in families:
        lines.append(f"# HELP {family.name} {_help(family.help)}")
        lines.append(f"# TYPE {family.name} {family.kind}")
        for sample in family.samples:
            labels = ",".join(f'{k}="{_label(v)}"' for k, v in sample.labels.items())
            lines.append(
                f"{family.name}{{{labels}}} {_number(sample.value)}"
                if labels
                else f"{family.name} {_number(sample.value)}"
            )
    return "\n".join(lines) + "\n"


def write_textfile(path: Path, text: str) -> None:
    """The metrics file, replaced whole (node_exporter never reads half of one)."""
    if not path.name.endswith(".prom"):
        raise TunerError(
            f"--textfile {path}: node_exporter's textfile collector reads only *.prom files"
        )
    write_outside(path, text.encode(), "the metrics")


def _help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _label(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))
