"""Public names of ``spatialdata_plugins.density`` (read by type checkers, and at run time by lazy_loader)."""

from ._density import (
    ring_density as ring_density,
)
from ._density import (
    smooth_density_by_distance as smooth_density_by_distance,
)
from ._errors import (
    CoordinateSystemError as CoordinateSystemError,
)
from ._errors import (
    DensityArgumentError as DensityArgumentError,
)
from ._errors import (
    DensityError as DensityError,
)
from ._errors import (
    DomainError as DomainError,
)
from ._errors import (
    InvalidContourError as InvalidContourError,
)
from ._plot import plot_density_profile as plot_density_profile
from ._table import density_table as density_table

__version__: str
