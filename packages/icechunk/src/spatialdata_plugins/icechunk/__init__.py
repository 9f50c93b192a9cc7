"""Transactional, versioned, crash-safe SpatialData writes on icechunk repositories."""

__version__ = "0.1.0"

__all__ = ["__version__"]
