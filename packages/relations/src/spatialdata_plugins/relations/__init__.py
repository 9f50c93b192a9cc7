"""Two-way links between SpatialData elements and tables: one graph, lazy spatial joins, SQL through DuckDB.

Examples
--------
>>> from spatialdata_plugins.relations import annotate_by_table, get_element_mapping  # doctest: +SKIP
>>> annotate_by_table(sdata, "nuclei", "table", method="sjoin", via="cells", predicate="within")  # doctest: +SKIP
>>> get_element_mapping(sdata, "nuclei", "table")  # doctest: +SKIP
"""

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

from spatialdata_plugins.core import lazy_exports
from spatialdata_plugins.relations._errors import (
    CoordinateSystemError,
    KeyColumnError,
    RelationArgumentError,
    RelationNotFoundError,
    RelationsError,
    RelationTargetNotFoundError,
    StaleRelationError,
)

# the API imports numpy, pandas, geopandas and spatialdata, and DuckDB on use: it loads on first use, so that loading
# the plugin (every ``spatialdata-plugins`` command) stays cheap
_LAZY = {
    "Relation": "_api",
    "RelationIssue": "_validate",
    "annotate_by_table": "_api",
    "get_element_mapping": "_api",
    "index_element": "_api",
    "relations": "_api",
    "validate_relations": "_validate",
    "ATTRS_KEY": "_graph",
    "STORE_GROUP": "_store",
    "spatial_extension_path": "_duckdb",
    "to_duckdb": "_duckdb",
}

__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())

if TYPE_CHECKING:
    from spatialdata_plugins.relations._api import (
        Relation,
        annotate_by_table,
        get_element_mapping,
        index_element,
        relations,
    )
    from spatialdata_plugins.relations._duckdb import spatial_extension_path, to_duckdb
    from spatialdata_plugins.relations._graph import ATTRS_KEY
    from spatialdata_plugins.relations._store import STORE_GROUP
    from spatialdata_plugins.relations._validate import RelationIssue, validate_relations

try:
    __version__ = version("spatialdata-plugins-relations")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without metadata
    __version__ = "0+unknown"

__all__ = [
    "ATTRS_KEY",
    "STORE_GROUP",
    "CoordinateSystemError",
    "KeyColumnError",
    "Relation",
    "RelationArgumentError",
    "RelationIssue",
    "RelationNotFoundError",
    "RelationTargetNotFoundError",
    "RelationsError",
    "StaleRelationError",
    "__version__",
    "annotate_by_table",
    "get_element_mapping",
    "index_element",
    "relations",
    "spatial_extension_path",
    "to_duckdb",
    "validate_relations",
]
