"""The rendered sysctl file, read by the real parsers, yields exactly the profile's values.

- procps ``sysctl -p`` and ``systemd-sysctl``, every key (global ones too), writing into a fake
  /proc/sys bind-mounted over the real one inside a private mount namespace;
- procps ``sysctl -p`` against the real kernel for per-network-namespace keys, in a new netns.
"""

from __future__ import annotations

import json
import shlex
import subprocess
from pathlib import Path, PurePosixPath

import pytest
from conftest import DEFAULT_PROC_SYS, have, needs_sandbox, write_proc_sys
from sandbox import _guard, sandbox

from tuner.base.keys import normalize_live
from tuner.changes.render import SYSCTL_FILE, render_files
from tuner.profile.library import ProfileLibrary
from tuner.profile.ref import ProfileRef
from tuner.profile.resolve import resolve
from tuner.profile.resolved import Profile

pytestmark = [pytest.mark.sandbox, needs_sandbox]

TOOLS = {
    "procps": "sysctl -q -p {file}",
    "systemd-sysctl": "/lib/systemd/systemd-sysctl {file}",
}


def bundled(name: str, directory: Path | None = None) -> Profile:
    """A bundled profile, or one from ``directory``."""
    if directory is None:
        library = ProfileLibrary.for_root(Path("/nonexistent"))
    else:
        library = ProfileLibrary((("site", directory),))
    profile, problems = resolve(ProfileRef.parse(name), library)
    assert profile is not None, problems
    return profile


@pytest.mark.parametrize("tool", TOOLS)
@pytest.mark.parametrize("name", ["base", "haproxy-2m-conns", "loadgen-client"])
def test_every_key_through_real_parser_into_fake_proc_sys(
    tool: str, name: str, tmp_path: Path
) -> None:
    if not have("sysctl") or not Path("/lib/systemd/systemd-sysctl").exists():
        pytest.fail("procps sysctl and systemd-sysctl must be installed (see .ci/run)")
    profile = bundled(name)
    conf = tmp_path / "99-tuner.conf"
    conf.write_text(render_files(profile)[SYSCTL_FILE])
    fake = write_proc_sys(tmp_path / "proc_sys", DEFAULT_PROC_SYS)
    for entry in profile.sysctl:  # every key exists, holding something else
        (fake / entry.key.path).write_text("0\n")
    command = TOOLS[tool].format(file=shlex.quote(str(conf)))
    result = sandbox(f"mount --bind {shlex.quote(str(fake))} /proc/sys\n{command}\n")
    assert result.returncode == 0, result.stderr
    written = {e.key.name: normalize_live((fake / e.key.path).read_text()) for e in profile.sysctl}
    assert written == {e.key.name: e.value for e in profile.sysctl}


NETNS_PROFILE = """\
name: netns
sysctl:
  net.ipv4.ip_local_port_range: "1024 65535"
  net.ipv4.tcp_tw_reuse: 1
  net.ipv4.tcp_timestamps: 1
  net.ipv4.tcp_syncookies: 1
  net.ipv4.tcp_max_syn_backlog: 65535
  net.ipv4.tcp_max_tw_buckets: 2000000
  net.ipv4.tcp_rmem: [4096, 16384, 4194304]
  net.ipv4.tcp_wmem: [4096, 16384, 4194304]
  net.ipv4.tcp_fin_timeout: 30
  net.core.somaxconn: 65535
  net/ipv4/ip_unprivileged_port_start: 1024
"""


def test_per_netns_keys_through_procps_on_the_real_kernel(tmp_path: Path) -> None:
    (tmp_path / "netns.yaml").write_text(NETNS_PROFILE)
    profile = bundled("netns", tmp_path)
    conf = tmp_path / "99-tuner.conf"
    conf.write_text(render_files(profile)[PurePosixPath("/etc/sysctl.d/99-tuner.conf")])
    keys = " ".join(e.key.name for e in profile.sysctl)
    script = (
        f"sysctl -q -p {shlex.quote(str(conf))}\n"
        f'for k in {keys}; do printf "%s\\t%s\\n" "$k" "$(sysctl -n "$k" | tr "\\t" " ")"; done\n'
    )
    result = sandbox(script)
    assert result.returncode == 0, result.stderr
    read_back = dict(line.split("\t", 1) for line in result.stdout.splitlines())
    assert {k: normalize_live(v) for k, v in read_back.items()} == {
        e.key.name: e.value for e in profile.sysctl
    }
    assert json.dumps(read_back)  # printable, nothing binary


def test_sandbox_guard_stops_a_script_in_the_outer_namespaces() -> None:
    inside = sandbox('echo "inside"')
    assert (inside.returncode, inside.stdout) == (0, "inside\n")
    outside = subprocess.run(
        ["bash", "-c", _guard() + 'echo "ran"'], capture_output=True, text=True, check=False
    )
    assert (outside.returncode, outside.stdout) == (99, "")
    assert "refusing: still in the outer net namespace" in outside.stderr
