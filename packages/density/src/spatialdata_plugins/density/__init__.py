"""Contour-aware density profiles (rings and kernel-smoothed signed distance) for SpatialData."""

__version__ = "0.1.0"

__all__ = ["__version__"]
