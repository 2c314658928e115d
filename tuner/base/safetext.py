"""The input policy for text: what a profile string may hold, and how untrusted text is shown.

Every string that can reach a rendered file, the journal or the terminal passes ``check_text``
once, in the profile model. Refused everywhere: NUL and every other C0 control character except
tab (and newline in free text), DEL, the C1 controls (U+0080-U+009F, NEL among them), the Unicode
line and paragraph separators, bidirectional overrides, isolates and marks, and the byte order
mark. systemd's parsers end a line at NUL and Python's ``splitlines`` breaks at NEL and U+2028, so
any of these could turn text in a comment into a setting; ANSI escapes and bidi controls could
repaint what an operator is asked to confirm.

``escape`` is the other half: text from a file on disk or a live value is shown with the same
characters made visible (``\\x1b``, ``\\u202e``), so nothing tuner prints can move the cursor.
"""

from __future__ import annotations

import re
import unicodedata

_BIDI = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_ALWAYS = f"\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ufeff{_BIDI}"
_IN_LINE = re.compile(f"[\n{_ALWAYS}]")
_IN_TEXT = re.compile(f"[{_ALWAYS}]")
_SHOWN = re.compile(f"[{_ALWAYS}]")
_ASCII_DIGITS = re.compile(r"[0-9]+")
MAX_TEXT = 8192


def describe(char: str) -> str:
    """``U+202E RIGHT-TO-LEFT OVERRIDE``; control characters by their code and C name."""
    code = ord(char)
    names = {0: "NUL", 9: "TAB", 10: "LF", 13: "CR", 27: "ESC", 0x7F: "DEL", 0x85: "NEL"}
    name = names.get(code) or unicodedata.name(char, "control character")
    return f"U+{code:04X} {name}"


def check_text(text: str, *, multiline: bool = False, what: str = "text") -> str:
    """Return ``text`` unchanged, or raise ValueError naming the first character refused."""
    pattern = _IN_TEXT if multiline else _IN_LINE
    bad = pattern.search(text)
    if bad:
        where = f" at position {bad.start() + 1}" if len(text) > 1 else ""
        raise ValueError(
            f"{what} cannot contain {describe(bad.group())}{where} (control characters, line "
            "separators and bidi controls could change what a file or the terminal shows)"
        )
    if len(text) > MAX_TEXT:
        raise ValueError(f"{what} is at most {MAX_TEXT} characters")
    return text


def is_ascii_digits(text: str) -> bool:
    """Only 0-9: ``str.isdigit`` and ``int`` accept other scripts' digits, pam_limits does not."""
    return bool(_ASCII_DIGITS.fullmatch(text))


def escape(text: str, *, newlines: bool = True) -> str:
    """``text`` with every character ``check_text`` refuses made visible; tabs stay, and so do
    newlines unless ``newlines`` is False (text meant to be one line: a key, a message)."""
    return (_SHOWN if newlines else _IN_LINE).sub(_visible, text)


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
