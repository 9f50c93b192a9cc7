"""Soft links to external files, loaded into SpatialData elements on first access."""

__version__ = "0.1.0"

__all__ = ["__version__"]
