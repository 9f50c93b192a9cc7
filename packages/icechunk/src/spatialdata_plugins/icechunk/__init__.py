"""Transactional, versioned, crash-safe SpatialData writes on icechunk repositories.

Examples
--------
>>> import spatialdata_plugins.icechunk as sdi  # doctest: +SKIP
>>> repo = sdi.open_repository("analysis.icechunk", create=True)  # doctest: +SKIP
>>> sdata = sdi.read(repo, branch="main")  # doctest: +SKIP
>>> with sdi.transaction(sdata, repo, message="add segmentation"):  # doctest: +SKIP
...     sdata["cells"] = shapes
"""

from importlib.metadata import PackageNotFoundError, version

import lazy_loader

# heavy modules load on first use (every ``spatialdata-plugins`` command imports each plugin package): the public
# names are declared once, in ``__init__.pyi``, which type checkers read and lazy_loader turns into __getattr__
__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
__all__ = [*__all__, "__version__"]

try:
    __version__ = version("spatialdata-plugins-icechunk")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without metadata
    __version__ = "0+unknown"
