"""The running kernel as tuner sees it: cached reads of /proc/sys through the host."""

from __future__ import annotations

import difflib
import functools

from tuner.base.errors import Unreadable
from tuner.base.keys import SysctlKey, parse_key
from tuner.machine import kernel
from tuner.machine.host import Host

MAX_SUGGESTIONS = 50


class LiveKernel:
    """Live values, read once each. Absent in image mode (``available`` is False)."""

    def __init__(self, host: Host) -> None:
        self.host = host
        self._values: dict[str, str | None] = {}
        self._errors: dict[str, str] = {}
        self._suggested = 0

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

    @functools.cached_property
    def _by_parent(self) -> dict[str, list[str]]:
        """Every key the kernel has, by the directory it is in (one walk of /proc/sys)."""
        found: dict[str, list[str]] = {}
        for name in self.names:
            found.setdefault(name.rpartition(".")[0], []).append(name)
        return found

    def suggest(self, name: str) -> str | None:
        """A key of the running kernel close to ``name``: looked for among the keys beside
        where ``name`` would be (a key is mistyped in its last part far more often than in its
        path), else among the directories; at most ``MAX_SUGGESTIONS`` keys get a suggestion,
        so a profile of thousands of unknown keys costs one walk, not one search each."""
        self._suggested += 1
        if self._suggested > MAX_SUGGESTIONS:
            return None
        parent, _, leaf = name.rpartition(".")
        siblings = self._by_parent.get(parent)
        if siblings is None:
            close = difflib.get_close_matches(parent, list(self._by_parent), n=1, cutoff=0.75)
            if not close:
                return None
            siblings = self._by_parent[close[0]]
        leaves = {candidate.rpartition(".")[2]: candidate for candidate in siblings}
        matches = difflib.get_close_matches(leaf, list(leaves), n=1, cutoff=0.6)
        return leaves[matches[0]] if matches else None

    @functools.cached_property
    def release(self) -> str | None:
        return self.host.kernel.release()
