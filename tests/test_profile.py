"""The bad-input corpus: every kind of mistake, with the exact message and position it gets."""

from __future__ import annotations

from pathlib import Path

import pytest

from tuner.profile.document import load_profile

CASES = {
    "malformed YAML": (
        "name: x\nsysctl: {fs.nr_open: 1\n",
        ["x.yaml:3:1: malformed YAML: did not find expected ',' or '}'"],
    ),
    "unknown top-level field, with a suggestion": (
        "name: x\ndescripton: typo\n",
        ["x.yaml:2:1: descripton: unknown field 'descripton'; did you mean 'description'? "
         "allowed here: name, description, extends, intent, vendored, sysctl, limits, services, acknowledge"],
    ),
    "unknown field in a setting": (
        "name: x\nsysctl:\n  fs.nr_open: {value: 5, reason: r}\n",
        ["x.yaml:3:26: fs.nr_open: unknown field 'reason'; allowed here: value, why, source, "
         "acknowledge"],
    ),
    "duplicate key": (
        "name: x\nsysctl:\n  fs.nr_open: 1\n  fs.nr_open: 2\n",
        ["x.yaml:4:3: fs.nr_open: duplicate key (first set at line 3); "
         "YAML would silently keep only the last one"],
    ),
    "the same key dotted and slashed": (
        "name: x\nsysctl:\n  fs.nr_open: 1\n  fs/nr_open: 2\n",
        ["x.yaml:4:3: fs/nr_open: same key as 'fs.nr_open' "
         "(dotted and slashed forms name one file)"],
    ),
    "path traversal in a key": (
        "name: x\nsysctl:\n  ../../etc/shadow: 1\n",
        ["x.yaml:3:3: ../../etc/shadow: not a sysctl key: empty, '.' or '..' component"],
    ),
    "space in a key": (
        "name: x\nsysctl:\n  net.core.some key: 1\n",
        ["x.yaml:3:3: net.core.some key: not a sysctl key: component 'some key' "
         "may only use letters, digits and _.:@+-"],
    ),
    "= in a key": (
        "name: x\nsysctl:\n  'fs.nr_open=1': 1\n",
        ["x.yaml:3:3: fs.nr_open=1: not a sysctl key: component 'nr_open=1' "
         "may only use letters, digits and _.:@+-"],
    ),
    "newline in a value": (
        'name: x\nsysctl:\n  fs.nr_open: "1\\nfs.file-max = 2"\n',
        ["x.yaml:3:15: fs.nr_open: a value cannot contain a newline"],
    ),
    "= in a value": (
        "name: x\nsysctl:\n  fs.nr_open: 1 = 2\n",
        ["x.yaml:3:15: fs.nr_open: a value cannot contain '=' (it would change the rendered file)"],
    ),
    "# in a value": (
        "name: x\nsysctl:\n  fs.nr_open: '1 #2'\n",
        ["x.yaml:3:15: fs.nr_open: a value cannot contain '#' (it would change the rendered file)"],
    ),
    "; in a value": (
        "name: x\nsysctl:\n  fs.nr_open: 1;2\n",
        ["x.yaml:3:15: fs.nr_open: a value cannot contain ';' (it would change the rendered file)"],
    ),
    "control character in a value": (
        'name: x\nsysctl:\n  fs.nr_open: "1\\x07"\n',
        ["x.yaml:3:15: fs.nr_open: a value cannot contain U+0007 control character: values are printable ASCII"],
    ),
    "wrong type: boolean": (
        "name: x\nsysctl:\n  net.ipv4.tcp_tw_reuse: true\n",
        ["x.yaml:3:26: net.ipv4.tcp_tw_reuse: booleans are ambiguous here: write 1 or 0"],
    ),
    "wrong type: mapping value": (
        "name: x\nsysctl:\n  fs.nr_open: {value: {a: 1}}\n",
        ["x.yaml:3:23: fs.nr_open: expected an integer, a string or a list of them, got dict"],
    ),
    "wrong type: sysctl is a list": (
        "name: x\nsysctl: [fs.nr_open]\n",
        ["x.yaml:2:9: sysctl: must be a mapping (key: value lines)"],
    ),
    "wrong type: extends is a string": (
        "name: x\nextends: base\n",
        ["x.yaml:2:10: extends: must be a list (- item lines), not 'base'"],
    ),
    "name does not match the file": (
        "name: y\n",
        ["x.yaml:1:7: name: profile name 'y' does not match its file name 'x.yaml'; profiles "
         "are found by file name: rename the file to y.yaml, or set name: x (or leave name out: "
         "it defaults to the file name)"],
    ),
    "limits: unknown item": (
        "name: x\nlimits:\n  - {domain: '*', type: soft, item: nofiles, value: 5}\n",
        ["x.yaml:3:37: limits entry 1, item: 'nofiles' is not core, data, fsize, memlock, "
         "nofile, rss, stack, cpu, nproc, as, maxlogins, maxsyslogins, nonewprivs, priority, "
         "locks, sigpending, msgqueue, nice, rtprio or rttime (did you mean nofile?)"],
    ),
    "limits: unknown type": (
        "name: x\nlimits:\n  - {domain: '*', type: both, item: nofile, value: 5}\n",
        ["x.yaml:3:25: limits entry 1, type: 'both' is not soft, hard or -"],
    ),
    "limits: bad domain": (
        "name: x\nlimits:\n  - {domain: 'two words', type: soft, item: nofile, value: 5}\n",
        ["x.yaml:3:14: limits entry 1, domain: 'two words' is not a limits.conf domain: use a user, "
         "@group, *, %group, a uid range min:max or a gid range @min:max"],
    ),
    "limits: inverted uid range": (
        "name: x\nlimits:\n  - {domain: '2000:1000', type: soft, item: nofile, value: 5}\n",
        ["x.yaml:3:14: limits entry 1, domain: uid range '2000:1000' has its lower bound above the upper"],
    ),
    "limits: %group outside maxlogins": (
        "name: x\nlimits:\n  - {domain: '%admins', type: soft, item: nofile, value: 5}\n",
        ["x.yaml:3:5: limits entry 1: a %-domain (%admins) applies only to maxlogins and maxsyslogins"],
    ),
    "limits: bad value": (
        "name: x\nlimits:\n  - {domain: '*', type: soft, item: nofile, value: lots}\n",
        ["x.yaml:3:52: limits entry 1, value: expected an integer (ASCII digits), unlimited, infinity or -1, got 'lots'"],
    ),
    "limits: nice out of range": (
        "name: x\nlimits:\n  - {domain: '*', type: soft, item: nice, value: 40}\n",
        ["x.yaml:3:5: limits entry 1: nice must be between -20 and 19, got 40"],
    ),
    "limits: unlimited priority": (
        "name: x\nlimits:\n  - {domain: '*', type: soft, item: priority, value: unlimited}\n",
        ["x.yaml:3:5: limits entry 1: priority cannot be unlimited (limits.conf(5))"],
    ),
    "limits: the same rule twice": (
        "name: x\nlimits:\n  - {domain: '*', type: '-', item: nofile, value: 5}\n"
        "  - {domain: '*', type: hard, item: nofile, value: 6}\n",
        ["x.yaml:4:5: limits entry 2: * hard nofile is already set by limits entry 1"],
    ),
    "services: not a unit": (
        "name: x\nservices:\n  haproxy: {LimitNOFILE: 5}\n",
        ["x.yaml:3:3: haproxy: 'haproxy' is not a unit that takes resource limits: "
         "expected NAME.service, .socket, .mount or .swap"],
    ),
    "services: unknown directive": (
        "name: x\nservices:\n  haproxy.service: {LimitFILES: 5}\n",
        ["x.yaml:3:21: haproxy.service.LimitFILES: unknown directive 'LimitFILES'; "
         "expected one of the Limit*= settings"],
    ),
    "services: soft above hard": (
        "name: x\nservices:\n  haproxy.service: {LimitNOFILE: '10:5'}\n",
        ["x.yaml:3:34: haproxy.service.LimitNOFILE: soft limit 10 is above hard limit 5"],
    ),
    "services: newline injection": (
        'name: x\nservices:\n  haproxy.service: {LimitNOFILE: "5\\nExecStart=/bin/sh"}\n',
        ["x.yaml:3:34: haproxy.service.LimitNOFILE: a limit value cannot contain U+000A LF at "
         "position 2 (control characters, line separators and bidi controls could change what "
         "a file or the terminal shows)"],
    ),
    "not a mapping": (
        "- a\n- b\n",
        ["x.yaml:1:1: a profile is a YAML mapping (name:, sysctl:, ...)"],
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", CASES)
def test_bad_input(case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text, expected = CASES[case]
    (tmp_path / "x.yaml").write_text(text)
    monkeypatch.chdir(tmp_path)
    source, problems = load_profile(Path("x.yaml"))
    assert [str(p) for p in problems] == expected
    assert source.model is None


def test_name_defaults_to_the_file_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Profiles are found by file name, so a profile need not repeat it; a file whose name is no
    profile name still needs one (and then fails the file-name check, saying how to fix it)."""
    (tmp_path / "my-proxy.yaml").write_text("sysctl: {net.core.somaxconn: 4096}\n")
    (tmp_path / "no name.yaml").write_text("sysctl: {net.core.somaxconn: 4096}\n")
    monkeypatch.chdir(tmp_path)
    source, problems = load_profile(Path("my-proxy.yaml"))
    assert (problems, source.model.name if source.model else None) == ([], "my-proxy")
    _source, problems = load_profile(Path("no name.yaml"))
    assert [str(p) for p in problems] == [
        "no name.yaml:1:1: name: required field 'name' is missing"
    ]


def test_every_error_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = (
        "name: x\n"
        "colour: red\n"
        "sysctl:\n"
        "  ../x: 1\n"
        "  fs.nr_open: true\n"
        "limits:\n"
        "  - {domain: '*', type: soft, item: nofile, value: many}\n"
    )
    (tmp_path / "x.yaml").write_text(text)
    monkeypatch.chdir(tmp_path)
    _source, problems = load_profile(Path("x.yaml"))
    assert sorted((p.location.line, p.key) for p in problems if p.location) == [
        (2, "colour"),
        (4, "../x"),
        (5, "fs.nr_open"),
        (7, "limits entry 1, value"),
    ]


def test_valid_profile_short_and_long_forms(tmp_path: Path) -> None:
    (tmp_path / "x.yaml").write_text(
        "name: x\n"
        "sysctl:\n"
        "  net.ipv4.tcp_rmem: [4096, 87380, 6291456]\n"
        "  fs.nr_open: {value: 4194304, why: because}\n"
        "limits:\n"
        "  - {domain: '@staff', type: '-', item: nofile, value: infinity}\n"
        "  - {domain: '1000:', type: soft, item: nice, value: -5}\n"
        "  - {domain: '%', type: hard, item: maxlogins, value: 4}\n"
        "services:\n"
        "  haproxy.service: {LimitNOFILE: 4100000, LimitCORE: {value: infinity, why: dumps}}\n"
    )
    source, problems = load_profile(tmp_path / "x.yaml")
    assert problems == []
    assert source.model is not None
    sysctl = source.model.sysctl
    assert sysctl["net.ipv4.tcp_rmem"] is not None
    assert sysctl["net.ipv4.tcp_rmem"].value == "4096 87380 6291456"
    assert sysctl["fs.nr_open"] is not None
    assert (sysctl["fs.nr_open"].value, sysctl["fs.nr_open"].why) == ("4194304", "because")
    assert [r.value for r in source.model.limits] == ["unlimited", "-5", "4"]
