"""tuner import: the round trip on generated roots, single files, and what is left out."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest
import test_boot_differential as boot
import test_limits_differential as logins
import yaml
from conftest import write_proc_sys
from typer.testing import CliRunner

from tuner.base.keys import parse_key
from tuner.cli.main import app
from tuner.machine.host import Host
from tuner.model import pamlimits, sysctld

runner = CliRunner()
PASSWD = "root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1::/:/bin/sh\nnobody:x:65534:65534::/:/bin/sh\n"
GROUP = "root:x:0:\ndaemon:x:1:\nnogroup:x:65534:\n"


def run(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args))


def _make_root(
    base: Path, index: int, scenario: boot.Scenario, limit_files: dict[str, str]
) -> Path:
    root = base / f"r{index}"
    for path, text in scenario.files.items():
        # tuner's own file name belongs to tuner: a foreign file there is another test's subject
        target = root / path.lstrip("/").replace("99-tuner.conf", "98-other.conf")
        target.parent.mkdir(parents=True, exist_ok=True)
        if text is None:
            target.unlink(missing_ok=True)
            target.symlink_to("/dev/null")
        else:
            target.write_text(text)
    (root / "etc").mkdir(parents=True, exist_ok=True)
    (root / "etc/sysctl.conf").write_text(scenario.sysctl_conf)
    if scenario.debian_link:
        link = root / "etc/sysctl.d/99-sysctl.conf"
        link.parent.mkdir(parents=True, exist_ok=True)
        if not link.is_symlink() and not link.exists():
            link.symlink_to("../sysctl.conf")
    for path, text in limit_files.items():
        if path.endswith("99-tuner.conf"):
            continue
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    (root / "etc/passwd").write_text(PASSWD)
    (root / "etc/group").write_text(GROUP)
    return root


def _boot(root: Path) -> dict[str, dict[str, str | None]]:
    """Every key of the generated trees as each applier leaves it at boot (the model that
    test_boot_differential holds to systemd-sysctl and procps)."""
    host = Host(root, None)
    files = sysctld.boot_files(host, {})
    names = {parse_key(k).name for k in boot.EXPLICIT} | {parse_key(p).name for p in boot.TREE}
    out: dict[str, dict[str, str | None]] = {}
    for tool in (sysctld.SYSTEMD, sysctld.PROCPS):
        index = sysctld.BootIndex(sysctld.assignments(files, host, tool))
        out[tool] = {}
        for name in sorted(names):
            found = index.effective(name)
            out[tool][name] = found.value if found else None
    return out


def _logins(root: Path) -> dict[str, object]:
    """What each login gets (pam_limits' model, held to the real module by
    test_limits_differential)."""
    host = Host(root, None)
    lines = pamlimits.login_lines(host, {})
    index = pamlimits.LoginIndex(lines)
    known = pamlimits.accounts(host)
    people = {pamlimits.identity_for(d, host, known) for d in logins.DOMAINS}
    people |= {pamlimits.identity_for(u, host, known) for u in known.users}
    out: dict[str, object] = {}
    for who in sorted((p for p in people if p is not None), key=repr):
        settings = index.effective(who)
        out[repr(who)] = (
            None
            if settings is None
            else {item: (s.soft, s.hard) for item, s in sorted(settings.items())}
        )
    return out


def _limit_files(rng: random.Random) -> dict[str, str]:
    files = {
        "/etc/security/limits.conf": "\n".join(logins._line(rng) for _ in range(rng.randint(0, 4)))
    }
    for name in rng.sample(["10-site.conf", "50-app.conf", "zz-late.conf"], rng.randint(0, 2)):
        body = [logins._line(rng) for _ in range(rng.randint(1, 3))]
        if rng.random() < 0.05:
            body.append(f"{rng.choice(('nobody', '@nogroup', 'daemon'))} -")
        files[f"/etc/security/limits.d/{name}"] = "\n".join(body) + "\n"
    return files


def test_import_then_plan_and_apply_change_no_effective_value(tmp_path: Path) -> None:
    """On generated roots (the boot and login differential generators): the imported profile
    plans with no setting shadowed at boot or login, and applying it changes no value any
    applier or login would get."""
    rng = random.Random(2212)
    imported = 0
    for index, scenario in enumerate(boot.scenarios()[:80]):
        root = _make_root(tmp_path, index, scenario, _limit_files(rng))
        before = (_boot(root), _logins(root))
        result = run("import", "--root", str(root), "host", "--json")
        assert result.exit_code == 0, result.output
        body = json.loads(result.output)
        imported += sum(body["imported"].values())
        checked = run("validate", "host", "--root", str(root), "--strict")
        assert checked.exit_code == 0, checked.output
        plan = run("plan", "host", "--root", str(root), "--json")
        assert plan.exit_code == 0, plan.output
        changes = json.loads(plan.output)["changes"]
        assert [c for c in changes if c["layer"] == "boot"] == [], (index, body["profile"])
        applied = run("apply", "host", "--root", str(root), "--yes")
        assert applied.exit_code == 0, applied.output
        after = (_boot(root), _logins(root))
        assert after[0] == before[0], (index, body["profile"])
        assert after[1] == before[1], (index, body["profile"])
    assert imported > 300  # the generators give the import plenty to carry


def test_a_root_import_says_what_it_left_out_and_why(tmp_path: Path) -> None:
    root = tmp_path / "root"
    files = {
        "etc/sysctl.d/10-net.conf": "# accept queue for bursts\nnet.core.somaxconn = 8192\n"
        "net.ipv4.conf.*.rp_filter = 2\nnet.ipv4.tcp_tw_reuse = 7\n",
        "etc/sysctl.conf": "fs.file-max = 2000000\n",
        "etc/security/limits.conf": "* soft nofile 4096\nroot - nofile 8192\nnobody -\n"
        "@web soft nofile lots\n",
        "etc/systemd/system/web.service.d/limits.conf": "[Service]\nLimitNOFILE=65536\n"
        "LimitNPROC=lots\n",
        "etc/systemd/system/old.service": "[Service]\nLimitNOFILE=1\n",
        "etc/passwd": PASSWD,
        "etc/group": GROUP,
    }
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    (root / "etc/systemd/system/old.service").unlink()
    (root / "etc/systemd/system/old.service").symlink_to("/dev/null")
    (root / "etc/systemd/system/fifo.service.d").mkdir()
    os.mkfifo(root / "etc/systemd/system/fifo.service.d/zz.conf")  # hostile: never read
    result = run("import", "--root", str(root), "site")
    assert result.exit_code == 0, result.output
    text = (root / "etc/tuner/profiles/site.yaml").read_text()
    doc = yaml.safe_load(text)
    assert doc["sysctl"] == {
        "net.core.somaxconn": {"value": 8192, "why": "accept queue for bursts",
                               "source": "/etc/sysctl.d/10-net.conf:2"},
    }  # fmt: skip
    assert [(r["domain"], r["type"], r["item"], r["value"]) for r in doc["limits"]] == [
        ("*", "soft", "nofile", 4096), ("root", "-", "nofile", 8192),
    ]  # fmt: skip
    header = [line for line in text.splitlines() if line.startswith("#   ")]
    said = "\n".join(header)
    for fragment in (
        "net.ipv4.conf.*.rp_filter = 2: a glob pattern",
        "net.ipv4.tcp_tw_reuse = 7: 7 is not one of",
        "fs.file-max = 2000000: only `sysctl --system` reads /etc/sysctl.conf",
        "nobody -: '<domain> -' (no limits at all for them)",
        "@web soft nofile lots: value 'lots': pam_limits ignores the line",
        "/etc/systemd/system/old.service: masked",
        "/etc/systemd/system/fifo.service: refusing to read",  # the FIFO: the unit is said
    ):
        assert fragment in said, (fragment, said)
    assert "LimitNPROC=lots" in said
    assert doc["services"] == {"web.service": {"LimitNOFILE": {
        "value": 65536, "source": "/etc/systemd/system/web.service.d/limits.conf:2"}}}  # fmt: skip
    assert "left out (" in result.output
    again = run("import", "--root", str(root), "site")
    assert again.exit_code == 1 and "exists: pass --force" in again.output


@pytest.mark.parametrize(
    ("text", "fmt", "expected"),
    [
        ("net.core.somaxconn = 4096\n# c\nfs.nr_open=2000000\n", "sysctl",
         {"sysctl": ["fs.nr_open", "net.core.somaxconn"]}),
        ("*\tsoft\tnofile\t4096\n@adm hard nproc 50 # x\n", "limits", {"limits": 2}),
    ],
)  # fmt: skip
def test_a_single_file_is_imported_by_its_format(
    tmp_path: Path, text: str, fmt: str, expected: dict[str, object]
) -> None:
    source = tmp_path / "given.conf"
    source.write_text(text)
    result = run("import", str(source), "--out", "-", "--root", str(tmp_path))
    assert result.exit_code == 0, result.output
    doc = yaml.safe_load(result.output)
    assert f"({fmt} format)" in doc["description"]
    for section, want in expected.items():
        got = doc[section]
        assert (sorted(got) if isinstance(want, list) else len(got)) == want


def test_a_file_of_no_clear_format_asks_for_format(tmp_path: Path) -> None:
    source = tmp_path / "mixed.conf"
    source.write_text("net.core.somaxconn = 1\n* soft nofile 5\n")
    result = run("import", str(source), "x", "--out", "-", "--root", str(tmp_path))
    assert result.exit_code == 1
    assert "pass --format sysctl or --format limits" in result.output
    forced = run("import", str(source), "x", "--out", "-", "--format", "limits", "--root",
                 str(tmp_path))  # fmt: skip
    assert forced.exit_code == 0, forced.output
    assert yaml.safe_load(forced.output)["limits"][0]["domain"] == "*"


def test_import_refuses_bad_names_and_arguments(tmp_path: Path) -> None:
    assert run("import", "--root", str(tmp_path), "../x").exit_code in (1, 64)
    assert run("import", "a", "b", "c").exit_code == 64
    assert run("import", "--root", str(tmp_path)).exit_code == 64
    assert run("import", "x", "--format", "sysctl", "--root", str(tmp_path)).exit_code == 64
    assert not (tmp_path / "etc/tuner/profiles").exists()


def test_live_values_no_file_sets_are_imported_and_flagged(
    tmp_path: Path, root: Path, proc_sys: Path
) -> None:
    write_proc_sys(proc_sys, {"net/core/somaxconn": "12345", "fs/nr_open": "2000000"})
    (root / "etc/sysctl.d").mkdir(parents=True, exist_ok=True)
    (root / "etc/sysctl.d/10-x.conf").write_text("fs.nr_open = 3000000\n")
    result = run("import", "--root", str(root), "--proc-sys", str(proc_sys), "--live", "h")
    assert result.exit_code == 0, result.output
    assert "fs.nr_open = 2000000 (live): differs from what boot sets (3000000" in result.output
    doc = yaml.safe_load((root / "etc/tuner/profiles/h.yaml").read_text())
    entry = doc["sysctl"]["net.core.somaxconn"]
    assert entry["value"] == 12345
    assert entry["why"].startswith("Live only: not persisted")
    without = run("import", "--root", str(root), "--proc-sys", str(proc_sys), "h2")
    assert without.exit_code == 0
    assert "somaxconn" not in (root / "etc/tuner/profiles/h2.yaml").read_text()


def test_hostile_names_and_text_in_the_sources_cannot_break_the_profile(tmp_path: Path) -> None:
    root = tmp_path / "ro\x1bot"
    (root / "etc/sysctl.d").mkdir(parents=True)
    (root / "etc/sysctl.d" / "1\x1b[31m\nx.conf").write_text(
        "# why\u202e with a bidi override\x07\nnet.core.somaxconn = 100\n"
        "net.core.netdev_max_backlog = 5\x1b[2J\n"
    )
    result = run("import", "--root", str(root), "h")
    assert result.exit_code == 0, result.output
    text = (root / "etc/tuner/profiles/h.yaml").read_text()
    assert "\x1b" not in text and "\u202e" not in text and "\x07" not in text
    assert run("validate", "h", "--root", str(root), "--strict").exit_code == 0
    doc = yaml.safe_load(text)
    assert list(doc["sysctl"]) == ["net.core.somaxconn"]  # the other value would inject bytes
    assert "netdev_max_backlog" in text.split("description:")[0]  # ...and is said


def test_the_directives_units_are_read_for_are_the_ones_a_profile_takes() -> None:
    from typing import get_args

    from tuner.base import services
    from tuner.profile.document import ServiceDirective

    assert set(services.DIRECTIVES) == set(get_args(ServiceDirective))
