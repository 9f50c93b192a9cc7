"""Register and fuse tiled SpatialData images with multiview-stitcher."""

__version__ = "0.1.0"

__all__ = ["__version__"]
