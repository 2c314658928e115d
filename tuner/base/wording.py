"""How counts are written in every message: "1 file", "3 files", never "file(s)"."""

from __future__ import annotations


def plural(count: int, word: str, many: str | None = None) -> str:
    """The count (with thousands separators) and the word, in the right number."""
    return f"{count:,} {word if count == 1 else many or word + 's'}"
