"""The running kernel as tuner sees it: cached reads of /proc/sys through the host."""

from __future__ import annotations

import difflib
import functools

from tuner import kernel
from tuner.errors import Unreadable
from tuner.host import Host
from tuner.keys import SysctlKey, parse_key


class LiveKernel:
    """Live values, read once each. Absent in image mode (``available`` is False)."""

    def __init__(self, host: Host) -> None:
        self.host = host
        self._values: dict[str, str | None] = {}
        self._errors: dict[str, str] = {}

    @property
    def available(self) -> bool:
        return not self.host.image_mode

    def value(self, key: SysctlKey | str) -> str | None:
        """The normalised live value; None when absent, unreadable, or in image mode."""
        if not self.available:
            return None
        key = parse_key(key) if isinstance(key, str) else key
        if key.name not in self._values:
            try:
                self._values[key.name] = kernel.read(self.host.kernel, key)
            except Unreadable as exc:
                self._values[key.name] = None
                self._errors[key.name] = str(exc)
        return self._values[key.name]

    def error(self, name: str) -> str | None:
        """Why a key that exists could not be read, if it could not."""
        return self._errors.get(name)

    def exists(self, key: SysctlKey) -> bool:
        return self.value(key) is not None or key.name in self._errors

    @functools.cached_property
    def names(self) -> tuple[str, ...]:
        return tuple(sorted(self.host.kernel.names()))

    def suggest(self, name: str) -> str | None:
        matches = difflib.get_close_matches(name, self.names, n=1, cutoff=0.75)
        return matches[0] if matches else None

    @functools.cached_property
    def release(self) -> str | None:
        return self.host.kernel.release()
