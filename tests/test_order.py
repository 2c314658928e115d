from __future__ import annotations

import pytest

from tuner.base.keys import SysctlKey, parse_key
from tuner.changes.order import write_order

Item = tuple[SysctlKey, str]


def order(values: dict[str, str], current: dict[str, str]) -> list[str]:
    items: list[Item] = [(parse_key(k), v) for k, v in values.items()]
    result = write_order(items, lambda i: i[0], lambda i: i[1], current.get)
    return [i[0].name for i in result]


def test_nr_open_first_then_sorted() -> None:
    assert order({"net.core.somaxconn": "1", "fs.file-max": "2", "fs.nr_open": "3"}, {}) == [
        "fs.nr_open",
        "fs.file-max",
        "net.core.somaxconn",
    ]


@pytest.mark.parametrize(
    ("start", "low_now", "first"),
    [
        ("1000", "32768", "net.ipv4.ip_unprivileged_port_start"),  # lowering both: start first
        ("2000", "1024", "net.ipv4.ip_local_port_range"),  # raising above current low: range first
    ],
)
def test_port_start_and_range(start: str, low_now: str, first: str) -> None:
    values = {
        "net.ipv4.ip_local_port_range": f"{start} 65535",
        "net.ipv4.ip_unprivileged_port_start": start,
    }
    current = {"net.ipv4.ip_local_port_range": f"{low_now} 65535"}
    assert order(values, current)[0] == first
