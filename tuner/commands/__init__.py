"""One module per command verb; each ``run`` returns an exit code and prints through ``report``."""
