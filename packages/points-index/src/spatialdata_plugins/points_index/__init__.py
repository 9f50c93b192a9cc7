"""Multiscale, chunked spatial index for SpatialData points: read only what a query needs."""

__version__ = "0.1.0"

__all__ = ["__version__"]
