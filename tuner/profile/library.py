"""Where profiles and templates are found.

A profile is named by path (anything with a ``/`` or a .yaml/.yml ending) or by name. Names are
looked up in ``<root>/etc/tuner/profiles/`` first (site and vendored profiles win), then in the
profiles bundled with tuner. A parent named in ``extends`` is looked up next to its child first
(unless the child is bundled: site profiles win everywhere).
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Protocol

from tuner.base.errors import NotFoundError
from tuner.base.wording import did_you_mean
from tuner.machine.rootfs import Refused, RootFS, absolute, read_path
from tuner.profile.ref import SUFFIXES, ProfileRef

if TYPE_CHECKING:
    from tuner.base.diagnostics import Diagnostic
    from tuner.profile.resolved import Profile

SITE_PROFILES = PurePosixPath("/etc/tuner/profiles")
# The profile-name syntax: also what makes a name safe to offer a shell (completion) or a path.
PROFILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
MAX_PROFILE_BYTES = 4 * 1024 * 1024


def data_dir(name: str) -> Path:
    """A data folder shipped with tuner: in the package when installed, beside it in a checkout."""
    here = Path(__file__).resolve().parent.parent  # tuner/
    for candidate in (here / name, here.parent / name):
        if candidate.is_dir():
            return candidate
    raise NotFoundError(f"tuner's {name}/ folder is missing from this installation ({here})")


def display_path(path: Path) -> str:
    """How messages name a file: relative to the working directory when below it (unless that
    is /, where a relative path reads as a puzzle), absolute otherwise."""
    cwd = Path.cwd().resolve()
    if cwd == Path("/"):
        return str(path.resolve())
    try:
        return str(path.resolve().relative_to(cwd))
    except ValueError:
        return str(path.resolve())


class Resolver(Protocol):
    def __call__(
        self, ref: ProfileRef, library: ProfileLibrary, *, partial: bool = False
    ) -> tuple[Profile | None, list[Diagnostic]]: ...


@dataclass(frozen=True)
class ProfileEntry:
    name: str
    path: Path
    origin: str  # "site" or "bundled"
    shadows_bundled: bool = False


@dataclass(frozen=True)
class ProfileLibrary:
    """Where names are looked up: the site directory inside ``root`` (read through the root's
    resolver, so a link planted there stays inside the root), then the bundled profiles."""

    search_dirs: tuple[tuple[str, Path], ...]
    root: Path = Path("/")
    # how a name becomes a Profile (``resolve.resolve``, or the CLI's lazy stand-in for it, so a
    # profile answered from the cache never loads the parser): set by whoever builds the library
    resolver: Resolver | None = None

    @classmethod
    def for_root(cls, root: Path, resolver: Resolver | None = None) -> ProfileLibrary:
        fs = RootFS(root)
        site = fs.real(fs.resolve(SITE_PROFILES))
        return cls((("site", site), ("bundled", data_dir("profiles"))), fs.root, resolver)

    def resolve(
        self, ref: ProfileRef, *, partial: bool = False
    ) -> tuple[Profile | None, list[Diagnostic]]:
        """``ref`` resolved by this library's resolver."""
        if self.resolver is None:
            raise TypeError("this ProfileLibrary was built without a resolver")
        return self.resolver(ref, self, partial=partial)

    def origin_of(self, path: Path) -> str | None:
        """ "site" or "bundled" when ``path`` is a profile in one of the library's directories
        (messages then name it by its file name: ``base.yaml:3:5 (bundled)``), else None."""
        folder = absolute(path).parent
        for origin, directory in self.search_dirs:
            if absolute(directory) == folder:
                return origin
        return None

    def _in_root(self, path: Path) -> PurePosixPath | None:
        """``path`` as an in-root path, when it is below the root (then it is read inside it)."""
        try:
            return PurePosixPath("/") / absolute(path).relative_to(self.root)
        except ValueError:
            return None

    def read(self, path: Path) -> bytes:
        """A profile file's bytes: a regular file of at most 4 MiB (FileNotFoundError when
        absent; Refused for a FIFO, a device or anything larger). Below the root it is read
        inside the root, links and all."""
        inside = self._in_root(path)
        if inside is None:
            return read_path(path, MAX_PROFILE_BYTES + 1)
        found = RootFS(self.root).read(inside, limit=MAX_PROFILE_BYTES + 1)
        if found is None:
            raise FileNotFoundError(2, "No such file or directory", str(path))
        return found.content

    def _candidate(self, directory: Path, name: str) -> Path | None:
        """The regular file ``name`` in ``directory``, with links resolved (inside the root)."""
        inside = self._in_root(directory)
        if inside is None:
            path = directory / name
            return path if path.is_file() else None
        fs = RootFS(self.root)
        try:
            target = fs.resolve(inside / name)
            info = fs.lstat(target)
        except Refused:
            return None
        if info is None or not stat.S_ISREG(info.st_mode):
            return None
        return fs.real(target)

    def find(self, wanted: ProfileRef, near: Path | None = None) -> Path:
        """The file of a profile: a path as given, a name looked up (next to ``near`` first)."""
        ref = wanted.text
        if wanted.kind != "name":
            path = Path(ref)
            if not os.path.lexists(path):
                raise NotFoundError(f"no profile file at {ref}")
            return path
        if not PROFILE_NAME.fullmatch(ref):
            raise NotFoundError(f"no profile named {ref!r} (a name is letters, digits, . _ -)")
        # next to the child first, except for a bundled child: a site profile overrides a
        # bundled one everywhere, also as the parent of a bundled profile
        searched = [d for _, d in self.search_dirs]
        bundled = [d.resolve() for origin, d in self.search_dirs if origin == "bundled"]
        dirs = [near] if near is not None and near.resolve() not in bundled else []
        dirs += searched
        for directory in dirs:
            for suffix in SUFFIXES:
                candidate = self._candidate(directory, f"{ref}{suffix}")
                if candidate is not None:
                    return candidate
        known = [e.name for e in self.entries()]
        close = did_you_mean(ref, known)
        hint = f"; did you mean {close!r}?" if close else ""
        shown = ", ".join(known[:20]) + (f" and {len(known) - 20} more" if len(known) > 20 else "")
        raise NotFoundError(f"no profile named {ref!r}{hint} (available: {shown or 'none'})")

    def entries(self) -> list[ProfileEntry]:
        """Every profile by name, site profiles first (each group by name); a site profile hides
        a bundled one of the same name. Only file names that are profile names count (nothing
        else is ever offered to a shell)."""
        found: dict[str, ProfileEntry] = {}
        for origin, directory in self.search_dirs:
            inside = self._in_root(directory)
            names = (
                RootFS(self.root).list_dir(inside)
                if inside is not None
                else sorted(p.name for p in directory.iterdir())
                if directory.is_dir()
                else []
            )
            for file_name in names:
                name, dot, suffix = file_name.rpartition(".")
                if f"{dot}{suffix}" not in SUFFIXES or not PROFILE_NAME.fullmatch(name):
                    continue
                if name in found:
                    if found[name].origin == "site" and origin == "bundled":
                        first = found[name]
                        found[name] = ProfileEntry(
                            first.name, first.path, first.origin, shadows_bundled=True
                        )
                    continue
                path = self._candidate(directory, file_name)
                if path is not None:
                    found[name] = ProfileEntry(name, path, origin)
        return sorted(found.values(), key=lambda e: (e.origin != "site", e.name))
