"""The package version, in its own module so that internal modules can import it without a cycle."""

__version__ = "0.1.0"
