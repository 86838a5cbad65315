"""The package version (one place, read by the package and by result files)."""

__version__ = "0.1.0"
