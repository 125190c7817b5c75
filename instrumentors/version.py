"""The package version (kept in one place for spans' instrumentation scope)."""

__version__ = "0.1.0"
