"""apply and rollback on the real kernel and real /etc paths, inside throwaway namespaces.

Every sysctl.d directory, limits.d, /etc/systemd/system and /var/lib are covered by tmpfs and
/etc/sysctl.conf by an empty file, so ``sysctl --system`` sees only tuner's file, and that file
holds only per-network-namespace keys. Nothing here can reach the host's kernel or /etc.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest
from conftest import needs_sandbox
from sandbox import COVER_ETC, sandbox

pytestmark = [pytest.mark.sandbox, needs_sandbox]

VALUES = {
    "net.ipv4.ip_local_port_range": "1024 65535",
    "net.ipv4.tcp_tw_reuse": "1",
    "net.ipv4.tcp_fin_timeout": "30",
    "net.ipv4.tcp_max_syn_backlog": "65535",
    "net.ipv4.tcp_rmem": "4096 16384 4194304",
    "net.core.somaxconn": "65535",
}
PROFILE = (
    "name: real\nsysctl:\n"
    + "".join(f'  {k}: "{v}"\n' for k, v in VALUES.items())
    + (
        "limits:\n"
        "  - {domain: '*', type: soft, item: nofile, value: 4096}\n"
        "  - {domain: '*', type: hard, item: nofile, value: 8192}\n"
        "services:\n"
        "  haproxy.service: {LimitNOFILE: 8192}\n"
    )
)
COVER = COVER_ETC
DUMP = (
    'dump() { echo "== $1"; for k in ' + " ".join(VALUES) + "; do "
    'printf "%s\\t%s\\n" "$k" "$(sysctl -n "$k" | tr "\\t" " ")"; done; }\n'
)


def sections(output: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    current = ""
    for line in output.splitlines():
        if line.startswith("== "):
            current = line[3:]
            found[current] = []
        elif current:
            found[current].append(line)
    return found


def values(lines: list[str]) -> dict[str, str]:
    return dict(line.split("\t", 1) for line in lines)


def run(tmp_path: Path, body: str) -> dict[str, list[str]]:
    (tmp_path / "real.yaml").write_text(PROFILE)
    script = f"WORK={shlex.quote(str(tmp_path))}\n" + COVER + DUMP + body
    result = sandbox(script)
    assert result.returncode == 0, result.stdout + result.stderr
    return sections(result.stdout)


def test_apply_sysctl_system_and_rollback_on_the_real_kernel(tmp_path: Path) -> None:
    body = """
dump before
$TUNER apply "$WORK/real.yaml" --yes > "$WORK/apply.out"
dump applied
echo "== limits"; su -l nobody -s /bin/sh -c 'ulimit -Sn; ulimit -Hn' 2>/dev/null
echo "== reset"
while IFS=$'\\t' read -r k v; do sysctl -q -w "$k=$v"; done < <(dump before | tail -n +2)
sysctl --system > /dev/null
dump system
$TUNER rollback --yes > /dev/null
dump rolledback
echo "== files"; find /etc/sysctl.d /etc/security/limits.d /etc/systemd/system -mindepth 1
"""
    found = run(tmp_path, body)
    before = values(found["before"])
    assert before != VALUES  # a new namespace starts from kernel defaults
    assert values(found["applied"]) == VALUES
    assert found["limits"] == ["4096", "8192"]
    assert values(found["system"]) == VALUES  # the files alone give the same values
    assert values(found["rolledback"]) == before
    assert found["files"] == []
    applied = (tmp_path / "apply.out").read_text()
    assert "PID 1 is not systemd: skipped `systemctl daemon-reload`." in applied
    assert "New limits take effect when these start under systemd: haproxy" in applied


def test_a_value_the_kernel_refuses_undoes_everything(tmp_path: Path) -> None:
    # no rule can know which congestion control modules exist: only the kernel refuses it, after
    # every file and some values were already written
    body = """
dump before
printf '  net.ipv4.tcp_wmem: "4096 16384 4194304"\\n  net.ipv4.tcp_congestion_control: nosuchcc\\n' > "$WORK/extra"
sed -i "/^sysctl:/r $WORK/extra" "$WORK/real.yaml"
if $TUNER apply "$WORK/real.yaml" --yes > "$WORK/out" 2> "$WORK/err"; then exit 1; fi
dump after
echo "== files"; find /etc/sysctl.d /etc/security/limits.d /etc/systemd/system -mindepth 1
"""
    found = run(tmp_path, body)
    assert values(found["after"]) == values(found["before"])
    assert found["files"] == []
    error = (tmp_path / "err").read_text()
    assert "cannot set net.ipv4.tcp_congestion_control = nosuchcc: the kernel refused" in error
    assert "Nothing was changed: every step was undone." in error


def test_a_full_disk_undoes_everything(tmp_path: Path) -> None:
    body = """
umount /etc/systemd/system && mount -t tmpfs -o size=4k tmpfs /etc/systemd/system
head -c 4096 /dev/zero > /etc/systemd/system/filler 2>/dev/null || true
dump before
if $TUNER apply "$WORK/real.yaml" --yes > "$WORK/out" 2> "$WORK/err"; then exit 1; fi
dump after
echo "== files"; find /etc/sysctl.d /etc/security/limits.d /etc/systemd/system -mindepth 1
"""
    found = run(tmp_path, body)
    assert values(found["after"]) == values(found["before"])
    assert found["files"] == ["/etc/systemd/system/filler"]
    assert "No space left on device" in (tmp_path / "err").read_text()


def test_under_systemd_apply_and_rollback_reload_it_and_restart_on_request(
    tmp_path: Path,
) -> None:
    # systemd's sign (sd_booted(3)): /run/systemd/system, in the sandbox's empty /run. A
    # stand-in systemctl first on PATH records each call, and fails when $WORK/fail has a message.
    body = """
mkdir -p /run/systemd/system
mkdir "$WORK/bin" && cat > "$WORK/bin/systemctl" <<'SH'
#!/bin/sh
echo "$*" >> "$WORK/calls"
if [ -s "$WORK/fail" ]; then cat "$WORK/fail" >&2; exit 1; fi
SH
chmod +x "$WORK/bin/systemctl"; export WORK PATH="$WORK/bin:$PATH"
$TUNER apply "$WORK/real.yaml" --yes > "$WORK/apply.out"
echo "== after apply"; cat "$WORK/calls"
$TUNER rollback --yes --restart-services > "$WORK/rollback.out"
echo "== after rollback"; cat "$WORK/calls"
echo 'Failed to reload daemon: Access denied' > "$WORK/fail"
if $TUNER apply "$WORK/real.yaml" --yes > /dev/null 2> "$WORK/failed.err"; then exit 1; fi
$TUNER history --json > "$WORK/history.json"
"""
    found = run(tmp_path, body)
    assert found["after apply"] == ["daemon-reload"]
    applied = (tmp_path / "apply.out").read_text().splitlines()
    assert applied[-2:] == [
        "Ran `systemctl daemon-reload`.",
        "Restart for the new limits to take effect: haproxy.service",
    ]
    assert found["after rollback"] == [
        "daemon-reload",
        "daemon-reload",
        "try-restart -- haproxy.service",
    ]
    rolled = (tmp_path / "rollback.out").read_text().splitlines()
    assert rolled[-1] == "Restarted haproxy.service (if it was running)."
    assert (tmp_path / "failed.err").read_text() == (
        "tuner: error: real is applied (generation 3), but systemctl daemon-reload failed: Failed "
        "to reload daemon: Access denied. Run `systemctl daemon-reload` once the cause is fixed\n"
    )
    history = json.loads((tmp_path / "history.json").read_text())
    assert [g["status"] for g in history["generations"]] == [
        "rolled back",
        "complete",
        "complete, in effect",
    ]
