"""The order in which sysctl values are written, so the kernel never sees an invalid state.

- fs.nr_open first: the descriptor limits that follow (nofile, LimitNOFILE) cannot exceed it.
- net.ipv4.ip_unprivileged_port_start must never exceed the low end of ip_local_port_range; the
  kernel refuses either write that would break that (net/ipv4/sysctl_net_ipv4.c). Writing the
  start first is safe when the new start is at or below the current low end; otherwise the range
  goes first.
Everything else is in key order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from tuner.base.keys import PORT_RANGE, PORT_START, SysctlKey
from tuner.knowledge import catalog

FIRST = ("fs.nr_open",)

T = TypeVar("T")


def write_order(
    items: Sequence[T],
    key_of: Callable[[T], SysctlKey],
    value_of: Callable[[T], str],
    current: Callable[[str], str | None],
) -> list[T]:
    """``items`` in a safe order; ``current(name)`` gives the value before the writes."""
    ordered = sorted(items, key=lambda i: (key_of(i).name not in FIRST, key_of(i).name))
    names = [key_of(i).name for i in ordered]
    if PORT_RANGE in names and PORT_START in names:
        start_item = ordered[names.index(PORT_START)]
        low_now = current(PORT_RANGE) or boot_current(PORT_RANGE) or "0"
        try:
            start_first = int(value_of(start_item).split()[0]) <= int(low_now.split()[0])
        except (ValueError, IndexError):  # not numbers: the kernel will refuse them anyway
            start_first = True
        ordered.remove(start_item)
        range_at = [key_of(i).name for i in ordered].index(PORT_RANGE)
        ordered.insert(range_at if start_first else range_at + 1, start_item)
    return ordered


def boot_current(name: str) -> str | None:
    """The kernel's boot default (the catalog's): what a sysctl.d file is applied on top of."""
    known = catalog.lookup(name)
    return known.default if known else None
