"""YAML documents tuner writes for other tools (cloud-init, Kubernetes): multi-line text in
literal block style, short lists on one line, keys in the order they were built."""

from __future__ import annotations

from typing import Any

import yaml


class Literal(str):
    """Multi-line text, dumped in YAML's literal block style."""

    __slots__ = ()


class Flow(list[str]):
    """A list dumped on one line: [systemctl, restart, systemd-sysctl.service]."""


def _literal(dumper: yaml.SafeDumper, text: Literal) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", str(text), style="|")


def _flow(dumper: yaml.SafeDumper, items: Flow) -> yaml.SequenceNode:
    return dumper.represent_sequence("tag:yaml.org,2002:seq", list(items), flow_style=True)


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(Literal, _literal)
_Dumper.add_representer(Flow, _flow)


def dump(document: Any) -> str:
    return yaml.dump(document, Dumper=_Dumper, sort_keys=False, width=100)
