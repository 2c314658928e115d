"""``python -m tuner``: the same as the ``tuner`` command."""

from __future__ import annotations

from tuner.cli.main import main

raise SystemExit(main())
