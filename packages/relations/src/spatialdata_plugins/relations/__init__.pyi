"""Public names of ``spatialdata_plugins.relations`` (read by type checkers, and at run time by lazy_loader)."""

from ._api import Relation as Relation
from ._api import annotate_by_table as annotate_by_table
from ._api import get_element_mapping as get_element_mapping
from ._api import index_element as index_element
from ._api import relations as relations
from ._duckdb import spatial_extension_path as spatial_extension_path
from ._duckdb import to_duckdb as to_duckdb
from ._errors import CoordinateSystemError as CoordinateSystemError
from ._errors import KeyColumnError as KeyColumnError
from ._errors import RelationArgumentError as RelationArgumentError
from ._errors import RelationNotFoundError as RelationNotFoundError
from ._errors import RelationsError as RelationsError
from ._errors import RelationTargetNotFoundError as RelationTargetNotFoundError
from ._errors import StaleRelationError as StaleRelationError
from ._graph import ATTRS_KEY as ATTRS_KEY
from ._store import STORE_GROUP as STORE_GROUP
from ._validate import RelationIssue as RelationIssue
from ._validate import validate_relations as validate_relations

__version__: str
