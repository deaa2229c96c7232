"""The one version source: pyproject.toml reads it (hatch), the package exports it."""

__version__ = "0.1.0"
