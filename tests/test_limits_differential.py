"""The pam_limits model against real pam_limits: generated limits files, ``su -l``, item by item.

Each scenario is a /etc/security/limits.conf, a few limits.d files and the 99-tuner.conf that
tuner renders for a generated profile. Inside a mount namespace (tmpfs over limits.d, the
generated limits.conf bound over the real one), ``su -l USER`` opens a PAM session for nobody and
for root, and ``/proc/self/limits`` shows what pam_limits set. ``limits.session_limits`` must
predict it exactly, given what the kernel then does with the numbers: setrlimit refuses a hard
limit above the caller's without CAP_SYS_RESOURCE, and the item then stays as the caller had it.
"""

from __future__ import annotations

import random
import shlex
from pathlib import Path

import pytest
from conftest import needs_sandbox
from sandbox import sandbox
from sandbox import sourced as _sourced

from tuner.changes.render import LIMITS_FILE, render_files
from tuner.model import pamlimits as limits
from tuner.profile.library import ProfileLibrary
from tuner.profile.ref import ProfileRef
from tuner.profile.resolve import resolve

pytestmark = [pytest.mark.sandbox, needs_sandbox]

SCENARIOS = 120
USERS = {
    "nobody": limits.Identity("nobody", 65534, 65534, frozenset({"nogroup"}), frozenset({65534})),
    "root": limits.Identity("root", 0, 0, frozenset({"root"}), frozenset({0})),
}
DOMAINS = ("*", "nobody", "root", "@nogroup", "@root", ":65534", "65534:", "60000:65533",
           "@:65534", "@65534:", "%nogroup", "daemon", "@daemon", "0:10")  # fmt: skip
TUNER_DOMAINS = ("*", "nobody", "root", "@nogroup", "@root", ":65534", "65534:", "@:65534")
# item -> values below the sandbox's hard caps (nofile 20000 without CAP_SYS_RESOURCE)
ITEMS = {
    "nofile": (64, 19000),
    "nproc": (100, 90000),
    "core": (0, 10**6),
    "stack": (1000, 100000),
    "locks": (0, 10**6),
    "cpu": (1, 10**5),
    "msgqueue": (1000, 800000),
}
PROC_NAMES = {
    "Max open files": "nofile",
    "Max processes": "nproc",
    "Max core file size": "core",
    "Max stack size": "stack",
    "Max file locks": "locks",
    "Max cpu time": "cpu",
    "Max msgqueue size": "msgqueue",
}


def _value(rng: random.Random, item: str) -> str:
    low, high = ITEMS[item]
    if item in ("core", "stack", "locks", "cpu") and rng.random() < 0.15:
        return rng.choice(("unlimited", "-1", "infinity"))
    return str(rng.randint(low, high))


def _line(rng: random.Random) -> str:
    item = rng.choice(list(ITEMS))
    kind = rng.choice(("soft", "hard", "-"))
    return f"{rng.choice(DOMAINS)}\t{kind}\t{item}\t{_value(rng, item)}"


def _profile(rng: random.Random, index: int) -> str:
    rules = []
    seen = set()
    for _ in range(rng.randint(1, 5)):
        domain, item = rng.choice(TUNER_DOMAINS), rng.choice(list(ITEMS))
        kind = rng.choice(("soft", "hard", "-"))
        key = (domain, item)
        if key in seen:
            continue
        seen.add(key)
        value = _value(rng, item)
        rules.append(f"  - {{domain: '{domain}', type: '{kind}', item: {item}, value: '{value}'}}")
    return f"name: p{index}\nlimits:\n" + "\n".join(rules) + "\n"


def scenarios(tmp: Path) -> list[dict[str, str]]:
    rng = random.Random(65534)
    library = ProfileLibrary((("site", tmp),))
    out = []
    for index in range(SCENARIOS):
        (tmp / f"p{index}.yaml").write_text(_profile(rng, index))
        profile, problems = resolve(ProfileRef.parse(f"p{index}"), library)
        assert profile is not None, problems
        files = {str(LIMITS_FILE): render_files(profile)[LIMITS_FILE]}
        files["/etc/security/limits.conf"] = "\n".join(_line(rng) for _ in range(rng.randint(0, 3)))
        for name in rng.sample(["10-site.conf", "50-app.conf", "zz-late.conf"], rng.randint(0, 2)):
            body = [_line(rng) for _ in range(rng.randint(1, 3))]
            if rng.random() < 0.05:
                body.append(f"{rng.choice(('nobody', '@nogroup', 'daemon'))} -")
            files[f"/etc/security/limits.d/{name}"] = "\n".join(body) + "\n"
        out.append(files)
    return out


def _script(all_files: list[dict[str, str]], work: Path) -> str:
    lines = [
        f"WORK={shlex.quote(str(work))}",
        "mount -t tmpfs tmpfs /etc/security/limits.d",
        ': > "$WORK/limits.conf" && mount --bind "$WORK/limits.conf" /etc/security/limits.conf',
    ]
    runs = [
        "echo '### caller'; echo '## caller'; cat /proc/self/limits",
        "echo '### pid1'; echo '## pid1'; cat /proc/1/limits",
    ]
    for index, files in enumerate(all_files):
        runs.append("rm -f /etc/security/limits.d/*")
        for path, text in files.items():
            runs.append(f"printf %s {shlex.quote(text)} > {shlex.quote(path)}")
        runs += [f"echo '### {index}'", *_su()]
    return "\n".join(lines + runs) + "\n"


def _su() -> list[str]:
    return [
        f"echo '## {user}'; su -l {user} -s /bin/sh -c 'cat /proc/self/limits' 2>/dev/null"
        for user in USERS
    ]


def _parse(output: str) -> list[dict[str, dict[str, tuple[int, int]]]]:
    runs: list[dict[str, dict[str, tuple[int, int]]]] = []
    user = ""
    for line in output.splitlines():
        if line.startswith("### "):
            runs.append({})
        elif line.startswith("## "):
            user = line[3:]
            runs[-1][user] = {}
        else:
            for label, item in PROC_NAMES.items():
                if line.startswith(label):
                    soft, hard = line[len(label) :].split()[:2]
                    runs[-1][user][item] = (_num(soft), _num(hard))
    return runs


def _num(text: str) -> int:
    return limits.RLIM_INFINITY if text == "unlimited" else int(text)


def predict(
    files: dict[str, str],
    who: limits.Identity,
    caller: dict[str, tuple[int, int]],
    pid1: dict[str, tuple[int, int]],
) -> dict[str, tuple[int, int]]:
    """The model's session limits, then what setrlimit makes of them in this sandbox."""
    order = ["/etc/security/limits.conf", *sorted(p for p in files if "/limits.d/" in p)]
    lines = [line for path in order for line in limits.parse_limits_conf(files[path], path)]
    wanted = limits.session_limits(limits.effective(lines, who), pid1)
    # su itself lowers the soft nofile limit to 1024 before PAM runs (seen with strace)
    result = {**caller, "nofile": (1024, caller["nofile"][1])}
    for item, (soft, hard) in wanted.items():
        if item in caller and hard <= caller[item][1]:  # else EPERM: it stays as it was
            result[item] = (soft, hard)
    return result


def test_limits_model_matches_real_pam_limits(tmp_path: Path) -> None:
    all_files = scenarios(tmp_path)
    result = sandbox(_sourced(_script(all_files, tmp_path), tmp_path), timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    runs = _parse(result.stdout)
    caller, pid1, observed = runs[0]["caller"], runs[1]["pid1"], runs[2:]
    assert len(observed) == SCENARIOS
    wrong = []
    changed = 0
    for index, (files, real) in enumerate(zip(all_files, observed, strict=True)):
        for name, who in USERS.items():
            expected = predict(files, who, caller, pid1)
            changed += sum(1 for k in expected if expected[k] != caller[k])
            if expected != real[name]:
                diff = {k: (expected[k], real[name].get(k)) for k in expected
                        if expected[k] != real[name].get(k)}  # fmt: skip
                wrong.append((index, name, diff, files))
    assert not wrong, wrong[:2]
    assert changed > SCENARIOS  # the scenarios really do change limits
    print(f"pam_limits: {SCENARIOS} scenarios x {len(USERS)} users, {changed} items set, exact")
