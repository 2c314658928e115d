"""tuner list: the profiles tuner can find by name, with their descriptions."""

from __future__ import annotations

from dataclasses import dataclass

from tuner.profile.document import load_profile
from tuner.profile.library import ProfileEntry, ProfileLibrary


@dataclass(frozen=True)
class Listed:
    entry: ProfileEntry
    description: str | None  # None: the file is not a valid profile


@dataclass(frozen=True)
class Listing:
    profiles: tuple[Listed, ...]

    def to_json(self) -> dict[str, object]:
        return {
            "profiles": [
                {
                    "name": p.entry.name,
                    "origin": p.entry.origin,
                    "path": str(p.entry.path),
                    "shadows_bundled": p.entry.shadows_bundled,
                    "description": p.description
                    if p.description is not None
                    else "(invalid: run tuner validate)",
                }
                for p in self.profiles
            ]
        }


def listing(library: ProfileLibrary) -> Listing:
    found = []
    for entry in library.entries():
        source, _problems = load_profile(entry.path, library.read)
        found.append(Listed(entry, source.model.description if source.model else None))
    return Listing(tuple(found))
