"""Public names of ``spatialdata_plugins.stitch`` (read by type checkers, and at run time by lazy_loader)."""

from ._errors import (
    NoOverlapError as NoOverlapError,
)
from ._errors import (
    NoTilesMatchedError as NoTilesMatchedError,
)
from ._errors import (
    RegistrationError as RegistrationError,
)
from ._errors import (
    StitchError as StitchError,
)
from ._errors import (
    TileMismatchError as TileMismatchError,
)
from ._stitch import (
    fuse_sdata_images as fuse_sdata_images,
)
from ._stitch import (
    label_fusion as label_fusion,
)
from ._stitch import (
    register_sdata_images as register_sdata_images,
)
from ._synthetic import (
    TileTruth as TileTruth,
)
from ._synthetic import (
    synthetic_tiles as synthetic_tiles,
)

__version__: str
