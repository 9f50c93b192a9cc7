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
from typing import TYPE_CHECKING

from spatialdata_plugins.core import lazy_exports
from spatialdata_plugins.icechunk._errors import (
    NestedTransactionError,
    NotARepositoryError,
    ReadOnlySessionError,
    RefNotFoundError,
    TransactionConflictError,
)

# icechunk, spatialdata and dask take seconds to import: the API loads on first use, so that the plugin module
# (imported by the core's registry at every CLI start) stays cheap
_LAZY = {
    "Commit": "_history",
    "ElementDiff": "_history",
    "create_branch": "_history",
    "create_tag": "_history",
    "diff": "_history",
    "list_branches": "_history",
    "list_tags": "_history",
    "log": "_history",
    "read": "_io",
    "session_location": "_io",
    "IcechunkForkBackend": "_parallel",
    "open_repository": "_repo",
    "s3_storage_from_url": "_repo",
    "Changes": "_transaction",
    "Transaction": "_transaction",
    "transaction": "_transaction",
    "write": "_transaction",
}


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())


if TYPE_CHECKING:
    from spatialdata_plugins.icechunk._history import (
        Commit,
        ElementDiff,
        create_branch,
        create_tag,
        diff,
        list_branches,
        list_tags,
        log,
    )
    from spatialdata_plugins.icechunk._io import read, session_location
    from spatialdata_plugins.icechunk._parallel import IcechunkForkBackend
    from spatialdata_plugins.icechunk._repo import open_repository, s3_storage_from_url
    from spatialdata_plugins.icechunk._transaction import Changes, Transaction, transaction, write

try:
    __version__ = version("spatialdata-plugins-icechunk")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without metadata
    __version__ = "0+unknown"

__all__ = [
    "Changes",
    "Commit",
    "ElementDiff",
    "IcechunkForkBackend",
    "NestedTransactionError",
    "NotARepositoryError",
    "ReadOnlySessionError",
    "RefNotFoundError",
    "Transaction",
    "TransactionConflictError",
    "__version__",
    "create_branch",
    "create_tag",
    "diff",
    "list_branches",
    "list_tags",
    "log",
    "open_repository",
    "read",
    "s3_storage_from_url",
    "session_location",
    "transaction",
    "write",
]
