"""Two-way links between SpatialData elements and tables: one graph, lazy spatial joins, SQL through DuckDB.

Examples
--------
>>> from spatialdata_plugins.relations import annotate_by_table, get_element_mapping  # doctest: +SKIP
>>> annotate_by_table(sdata, "nuclei", "table", method="sjoin", via="cells", predicate="within")  # doctest: +SKIP
>>> get_element_mapping(sdata, "nuclei", "table")  # doctest: +SKIP
"""

from importlib.metadata import PackageNotFoundError, version

import lazy_loader

# the API imports numpy, pandas, geopandas, spatialdata and DuckDB: it loads on first use (every
# ``spatialdata-plugins`` command imports each plugin package); the public names are declared once, in
# ``__init__.pyi``, which type checkers read and lazy_loader turns into __getattr__
__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
__all__ = [*__all__, "__version__"]

try:
    __version__ = version("spatialdata-plugins-relations")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without metadata
    __version__ = "0+unknown"
