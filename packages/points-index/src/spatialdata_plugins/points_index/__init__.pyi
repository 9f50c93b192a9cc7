"""Public names of ``spatialdata_plugins.points_index`` (read by type checkers, and at run time by lazy_loader)."""

from ._api import (
    bounding_box_query as bounding_box_query,
)
from ._api import (
    build_points_index as build_points_index,
)
from ._api import (
    index_info as index_info,
)
from ._api import (
    open_points_index as open_points_index,
)
from ._api import (
    points_fingerprint as points_fingerprint,
)
from ._api import (
    query_points as query_points,
)
from ._errors import (
    CorruptIndexError as CorruptIndexError,
)
from ._errors import (
    IndexNotFoundError as IndexNotFoundError,
)
from ._errors import (
    PointsIndexError as PointsIndexError,
)
from ._errors import (
    StaleIndexError as StaleIndexError,
)
from ._errors import (
    UnknownGeneError as UnknownGeneError,
)
from ._reader import PointsIndex as PointsIndex

__version__: str
