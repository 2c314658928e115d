"""``tuner`` and ``python -m tuner``. A shell asking for completions (``_TUNER_COMPLETE``) is
answered here, before the command line framework and the models load (``cli/completer``: a
TAB costs a fraction of what importing them does); everything else runs ``cli.main``."""

from __future__ import annotations

import os


def main() -> int:
    if os.environ.get("_TUNER_COMPLETE"):
        from tuner.cli import completer

        return completer.answer(os.environ)
    from tuner.cli.main import main as run

    return run()


if __name__ == "__main__":
    raise SystemExit(main())
