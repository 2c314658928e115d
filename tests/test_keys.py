from __future__ import annotations

import pytest

from tuner.base.keys import KeySyntaxError, normalize_live, normalize_value, parse_key


@pytest.mark.parametrize(
    ("text", "name", "path"),
    [
        ("fs.nr_open", "fs.nr_open", "fs/nr_open"),
        ("fs/nr_open", "fs.nr_open", "fs/nr_open"),
        ("net.ipv4.conf.eth0/100.forwarding", "net.ipv4.conf.eth0/100.forwarding",
         "net/ipv4/conf/eth0.100/forwarding"),
        ("net/ipv4/conf/eth0.100/forwarding", "net.ipv4.conf.eth0/100.forwarding",
         "net/ipv4/conf/eth0.100/forwarding"),
        ("net.ipv4.ip_local_port_range", "net.ipv4.ip_local_port_range",
         "net/ipv4/ip_local_port_range"),
    ],
)  # fmt: skip
def test_parse_key_forms(text: str, name: str, path: str) -> None:
    key = parse_key(text)
    assert key.name == name
    assert str(key.path) == path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("../../etc/shadow", "not a sysctl key: empty, '.' or '..' component"),
        ("net/../../etc/shadow", "not a sysctl key: empty, '.' or '..' component"),
        ("/proc/sys/fs/nr_open", "a sysctl key is relative to /proc/sys; drop the leading '/'"),
        ("net.ipv4.a b", "not a sysctl key: component 'a b' may only use letters, digits and _.:@+-"),
        ("fs.nr_open=5", "not a sysctl key: component 'nr_open=5' may only use letters, digits and _.:@+-"),
        (" fs.nr_open", "a sysctl key cannot be empty or have spaces around it"),
        ("fs", "not a sysctl key: expected at least two components (e.g. fs.nr_open)"),
        ("fs..nr_open", "not a sysctl key: empty, '.' or '..' component"),
        ("fs.nr_open\n", "a sysctl key cannot be empty or have spaces around it"),
    ],
)  # fmt: skip
def test_parse_key_rejects(text: str, message: str) -> None:
    with pytest.raises(KeySyntaxError) as caught:
        parse_key(text)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1, "1"),
        ("1024 65535", "1024 65535"),
        ("1024\t65535", "1024 65535"),
        ("  1024   65535 ", "1024 65535"),
        ([4096, 87380, "6291456"], "4096 87380 6291456"),
        ("cubic", "cubic"),
    ],
)
def test_normalize_value(value: object, expected: str) -> None:
    assert normalize_value(value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (True, "booleans are ambiguous here: write 1 or 0"),
        ("1\n2", "a value cannot contain a newline"),
        ("1\r", "a value cannot contain a newline"),
        ("1 = 2", "a value cannot contain '=' (it would change the rendered file)"),
        ("1 # x", "a value cannot contain '#' (it would change the rendered file)"),
        ("1;", "a value cannot contain ';' (it would change the rendered file)"),
        ("a\x1bb", "a value cannot contain U+001B ESC: values are printable ASCII"),
        ("", "a value cannot be empty"),
        ([], "a list value needs at least one element"),
        (["a b"], "a list element cannot contain spaces"),
        ([True], "list elements must be integers or strings"),
        (1.5, "expected an integer, a string or a list of them, got float"),
        ({"a": 1}, "expected an integer, a string or a list of them, got dict"),
    ],
)
def test_normalize_value_rejects(value: object, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        normalize_value(value)
    assert str(caught.value) == message


def test_normalize_live_tabs_and_newline() -> None:
    assert normalize_live("4096\t131072\t6291456\n") == "4096 131072 6291456"
