"""Every OME-NGFF RFC-5 coordinate transformation for SpatialData, with a conformance command."""

__version__ = "0.1.0"

__all__ = ["__version__"]
