"""How messages say things: counts ("1 file", "3 files", never "file(s)"), a choice ("bash, zsh
or fish") and a did-you-mean."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence


def plural(count: int, word: str, many: str | None = None) -> str:
    """The count (with thousands separators) and the word, in the right number."""
    return f"{count:,} {word if count == 1 else many or word + 's'}"


def one_of(choices: Sequence[str], conjunction: str = "or") -> str:
    """``a``, ``a or b``, ``a, b or c``: a choice among the values, as a sentence says it (or,
    with ``and``, a list of them)."""
    if len(choices) <= 1:
        return "".join(choices)
    return f"{', '.join(choices[:-1])} {conjunction} {choices[-1]}"


def did_you_mean(
    word: str, known: Iterable[str] | Mapping[str, str], cutoff: float = 0.6
) -> str | None:
    """The known word closest to ``word`` when one is close enough to be a typo, else None.
    With a mapping, the words compared are its keys and the answer is the value (compare
    ``bogus`` with ``out``, answer ``--out``)."""
    spelled = dict(known) if isinstance(known, Mapping) else {name: name for name in known}
    close = difflib.get_close_matches(word, list(spelled), n=1, cutoff=cutoff)
    return spelled[close[0]] if close else None
