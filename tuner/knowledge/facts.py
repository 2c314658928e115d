"""What is known about the machine a profile is for: its values, else the live ones, else the
kernel's defaults; its memory, page size and listening ports. Rules and capacity read these."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from tuner.base.diagnostics import Location
from tuner.base.keys import integers
from tuner.knowledge import catalog
from tuner.machine.live import LiveKernel
from tuner.profile.resolved import Profile

DEFAULT_PAGE_SIZE = 4096  # an image's machine is not this one: x86-64 and most arm64 kernels


@dataclass(frozen=True)
class Value:
    text: str
    origin: str  # "profile", "live" or "default"
    location: Location | None = None

    def ints(self) -> list[int] | None:
        return integers(self.text)


class Facts:
    def __init__(self, profile: Profile, live: LiveKernel) -> None:
        self.profile = profile
        self.live = live

    def value(self, name: str) -> Value | None:
        for entry in self.profile.sysctl:
            if entry.key.name == name:
                return Value(entry.value, "profile", entry.origin)
        live = self.live.value(name) if self.live.available else None
        if live is not None:
            return Value(live, "live")
        known = catalog.lookup(name)
        release = self.live.release if self.live.available else None
        default = known.default_for(release) if known else None
        return Value(default, "default") if default is not None else None

    def ints(self, name: str) -> list[int] | None:
        found = self.value(name)
        return found.ints() if found else None

    def first_int(self, name: str) -> int | None:
        numbers = self.ints(name)
        return numbers[0] if numbers else None

    @functools.cached_property
    def memory_bytes(self) -> int | None:
        """RAM: the intent's memory_gib, else the live MemTotal."""
        intent = self.profile.intent
        if intent and intent.memory_gib:
            return int(intent.memory_gib * 1024**3)
        for line in (self.live.host.kernel.read_proc("meminfo") or "").splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
        return None

    @property
    def page_size(self) -> int:
        """The target's page size (tcp_mem counts pages): the running kernel's, else 4096."""
        return self.live.host.kernel.page_size() or DEFAULT_PAGE_SIZE

    @functools.cached_property
    def listening_ports(self) -> set[int]:
        return self.live.host.kernel.listening_ports()
