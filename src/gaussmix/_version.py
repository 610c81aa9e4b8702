"""The version of gaussmix (that of its distribution)."""

__version__ = "0.1.0"
