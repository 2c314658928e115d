"""tuner: kernel tuning as code."""

__version__ = "0.2.0"
