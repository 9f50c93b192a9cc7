"""Public names of ``spatialdata_plugins.icechunk`` (read by type checkers, and at run time by lazy_loader)."""

from ._errors import (
    NestedTransactionError as NestedTransactionError,
)
from ._errors import (
    NotARepositoryError as NotARepositoryError,
)
from ._errors import (
    ReadOnlySessionError as ReadOnlySessionError,
)
from ._errors import (
    RefNotFoundError as RefNotFoundError,
)
from ._errors import (
    TransactionConflictError as TransactionConflictError,
)
from ._history import (
    Commit as Commit,
)
from ._history import (
    ElementDiff as ElementDiff,
)
from ._history import (
    create_branch as create_branch,
)
from ._history import (
    create_tag as create_tag,
)
from ._history import (
    diff as diff,
)
from ._history import (
    list_branches as list_branches,
)
from ._history import (
    list_tags as list_tags,
)
from ._history import (
    log as log,
)
from ._io import (
    read as read,
)
from ._io import (
    session_location as session_location,
)
from ._parallel import IcechunkForkBackend as IcechunkForkBackend
from ._repo import (
    open_repository as open_repository,
)
from ._repo import (
    s3_storage_from_url as s3_storage_from_url,
)
from ._transaction import (
    Changes as Changes,
)
from ._transaction import (
    Transaction as Transaction,
)
from ._transaction import (
    transaction as transaction,
)
from ._transaction import (
    write as write,
)

__version__: str
