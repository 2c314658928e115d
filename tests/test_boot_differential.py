"""The boot model against the real appliers: generated sysctl.d file sets, key by key.

Each scenario is a random set of files across /etc, /run, /usr/local/lib, /usr/lib and /lib
sysctl.d (same-name masking, links to /dev/null, globs, ``-`` prefixes, slashed keys, Debian's
99-sysctl.conf link, /etc/sysctl.conf, a 99-tuner.conf). The real ``sysctl --system`` (procps)
and the real systemd-sysctl apply it inside a mount namespace, writing into a fake /proc/sys tree
bind-mounted over the real one; tuner's model (``sysctld``) predicts, for every key of the tree,
what each tool leaves there. They must agree exactly.
"""

from __future__ import annotations

import random
import shlex
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import pytest
from conftest import needs_sandbox
from sandbox import sandbox
from sandbox import sourced as _sourced

from tuner.base.keys import normalize_live
from tuner.machine.host import Host
from tuner.model.sysctld import PROCPS, SYSCTL_DIRS, SYSTEMD, assignments, boot_files, effective

pytestmark = [pytest.mark.sandbox, needs_sandbox]

SCENARIOS = 150
INTERFACES = ("lo", "eth0", "eth0.100", "all", "default")
TREE = {
    **{f"net/ipv4/conf/{i}/{k}": "5" for i in INTERFACES for k in ("forwarding", "rp_filter")},
    "net/core/somaxconn": "5",
    "net/core/netdev_max_backlog": "5",
    "fs/nr_open": "5",
}
EXPLICIT = (
    "net.ipv4.conf.lo.forwarding",
    "net.ipv4.conf.eth0.rp_filter",
    "net.ipv4.conf.eth0/100.forwarding",
    "net/ipv4/conf/eth0.100/rp_filter",
    "net.ipv4.conf.all.forwarding",
    "net.core.somaxconn",
    "net/core/netdev_max_backlog",
    "fs.nr_open",
)
GLOBS = (
    "net.ipv4.conf.*.forwarding",
    "net.ipv4.conf.*.rp_filter",
    "net.ipv4.conf.e*.forwarding",
    "net.ipv4.conf.*.*",
    "net.core.*",
    "net/ipv4/conf/*/rp_filter",
    "net.*.forwarding",
    "net.ipv4.conf.eth0/100.*",
    "fs.nr_?pen",
)
DIRS = tuple(str(d) for d in SYSCTL_DIRS)
NAMES = ("10-a.conf", "50-b.conf", "60-c.conf", "99-tuner.conf", "zz-last.conf", "00-first.conf")


@dataclass(frozen=True)
class Scenario:
    files: dict[str, str | None]  # path -> text; None: a link to /dev/null
    sysctl_conf: str
    debian_link: bool


def _line(rng: random.Random) -> str:
    key = rng.choice(EXPLICIT) if rng.random() < 0.55 else rng.choice(GLOBS)
    prefix = "-" if rng.random() < 0.2 else ""
    space = rng.choice((" = ", "=", "  =  "))
    return f"{prefix}{key}{space}{rng.randint(0, 9)}"


def _text(rng: random.Random, lines: int) -> str:
    body = [_line(rng) for _ in range(lines)]
    if rng.random() < 0.3:
        body.insert(0, "# a comment = not a setting")
    return "\n".join(body) + "\n"


def scenarios() -> list[Scenario]:
    rng = random.Random(20261126)
    out = []
    for _ in range(SCENARIOS):
        files: dict[str, str | None] = {}
        for _ in range(rng.randint(1, 6)):
            directory = rng.choice(DIRS)
            name = rng.choice(NAMES)
            masked = rng.random() < 0.1
            files[f"{directory}/{name}"] = None if masked else _text(rng, rng.randint(1, 4))
        conf = _text(rng, rng.randint(0, 2)) if rng.random() < 0.5 else ""
        out.append(Scenario(files, conf, rng.random() < 0.5))
    return out


def _real_path(path: str) -> str:
    """Where a file lives on a merged-/usr system: /lib is a link to /usr/lib."""
    return "/usr" + path if path.startswith("/lib/") else path


def predict(scenario: Scenario, base: Path, tool: str) -> dict[str, str]:
    """The model's answer: the tree after ``tool`` applied the scenario's files."""
    root = base / "root"
    for directory in DIRS:
        if directory != "/lib/sysctl.d":
            (root / directory.lstrip("/")).mkdir(parents=True, exist_ok=True)
    (root / "lib").symlink_to("usr/lib")
    for path, text in scenario.files.items():
        target = root / _real_path(path).lstrip("/")
        if text is None:
            target.unlink(missing_ok=True)
            target.symlink_to("/dev/null")
        else:
            target.write_text(text)
    (root / "etc/sysctl.conf").write_text(scenario.sysctl_conf)
    if scenario.debian_link and not (root / "etc/sysctl.d/99-sysctl.conf").exists():
        (root / "etc/sysctl.d/99-sysctl.conf").symlink_to("../sysctl.conf")
    host = Host(root, None)
    applied = assignments(boot_files(host, {}), host, tool)
    result = {}
    for rel, initial in TREE.items():
        name = ".".join(c.replace(".", "/") for c in PurePosixPath(rel).parts)
        winner = effective(applied, name)
        result[rel] = winner.value if winner is not None else initial
    return result


def _script(all_scenarios: list[Scenario], command: str, work: Path) -> str:
    fake = work / "proc_sys"
    lines = [
        f"WORK={shlex.quote(str(work))}",
        f"mkdir -p {shlex.quote(str(fake))}",
        f"mount --bind {shlex.quote(str(fake))} /proc/sys",
        "for d in /etc/sysctl.d /run /usr/lib/sysctl.d /usr/local/lib; do "
        "mkdir -p $d 2>/dev/null || true; mount -t tmpfs tmpfs $d; done",
        ': > "$WORK/sysctl.conf" && mount --bind "$WORK/sysctl.conf" /etc/sysctl.conf',
    ]
    for index, scenario in enumerate(all_scenarios):
        lines.append(
            "rm -rf /etc/sysctl.d/* /run/* /usr/lib/sysctl.d/* /usr/local/lib/* /proc/sys/*"
        )
        lines.append("mkdir -p /run/sysctl.d /usr/local/lib/sysctl.d")
        for rel, value in TREE.items():
            path = f"/proc/sys/{rel}"
            lines.append(f"mkdir -p {shlex.quote(str(PurePosixPath(path).parent))}")
            lines.append(f"echo {value} > {shlex.quote(path)}")
        for path, text in scenario.files.items():
            real = shlex.quote(_real_path(path))
            if text is None:
                lines.append(f"rm -f {real}; ln -s /dev/null {real}")
            else:
                lines.append(f"printf %s {shlex.quote(text)} > {real}")
        lines.append(f"printf %s {shlex.quote(scenario.sysctl_conf)} > /etc/sysctl.conf")
        if scenario.debian_link:
            lines.append("[ -e /etc/sysctl.d/99-sysctl.conf ] || "
                         "ln -s ../sysctl.conf /etc/sysctl.d/99-sysctl.conf")  # fmt: skip
        lines.append(f"{command} >/dev/null 2>&1 || true")
        lines.append(f"echo '### {index}'")
        lines.append("cd /proc/sys && for f in $(find . -type f | sort); do "
                     'echo "${f#./}=$(cat $f)"; done; cd /')  # fmt: skip
    return "\n".join(lines) + "\n"


def _parse(output: str) -> list[dict[str, str]]:
    results: list[dict[str, str]] = []
    for line in output.splitlines():
        if line.startswith("### "):
            results.append({})
        elif "=" in line and results:
            rel, _, value = line.partition("=")
            results[-1][rel] = normalize_live(value)
    return results


@pytest.mark.parametrize(
    ("tool", "command"),
    [(PROCPS, "sysctl --system"), (SYSTEMD, "/lib/systemd/systemd-sysctl")],
)
def test_boot_model_matches_the_real_tool_key_by_key(
    tool: str, command: str, tmp_path: Path
) -> None:
    all_scenarios = scenarios()
    result = sandbox(_sourced(_script(all_scenarios, command, tmp_path), tmp_path), timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    observed = _parse(result.stdout)
    assert len(observed) == len(all_scenarios)
    mismatches = []
    for index, (scenario, real) in enumerate(zip(all_scenarios, observed, strict=True)):
        predicted = predict(scenario, tmp_path / f"model-{index}", tool)
        if predicted != real:
            wrong = {
                k: (predicted[k], real.get(k)) for k in predicted if predicted[k] != real.get(k)
            }
            mismatches.append((index, scenario, wrong))
    assert not mismatches, mismatches[:3]
    keys_set = sum(1 for real in observed for k, v in real.items() if v != TREE[k])
    assert keys_set > SCENARIOS  # the scenarios really do set keys
    print(f"{tool}: {len(all_scenarios)} scenarios, {keys_set} keys set, model exact")
