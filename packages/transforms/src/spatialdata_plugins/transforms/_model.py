"""Coordinate systems, axes and the twelve RFC-5 transformation types: parse, write, apply, invert.

Every transformation is a small object holding its parameters as float64 numpy arrays. ``to_dict`` writes the
OME-Zarr 0.6rc0 form; ``parse_transformation`` reads the 0.6rc0 form and the RFC-5 draft forms (coordinate
systems named by a plain string, ``input_axes``/``output_axes`` on ``byDimension`` children). Points are
``(N, D)`` arrays (numpy or dask), one row a point, one column an axis of the input coordinate system.
"""

from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from spatialdata_plugins.transforms._blocks import apply_affine, apply_linear, apply_per_axis, thread_limit
from spatialdata_plugins.transforms._errors import (
    NotInvertibleError,
    ParameterArrayError,
    RotationPrecisionWarning,
    TransformationError,
    UnknownTransformationTypeError,
)

if TYPE_CHECKING:
    import zarr

#: Largest deviation from orthonormality accepted for a ``rotation`` matrix: how far any singular value of the matrix
#: is from one (``max |σᵢ - 1|``), i.e. the largest relative change of a length. It covers matrices written with
#: three decimals (the published conformance suite's ``[[0.17, -0.985], [0.985, 0.17]]`` is off by 4.4e-4, and every
#: 2D rotation rounded to three decimals by at most 7.1e-4) and equals the suite's relative tolerance.
ROTATION_ATOL = 1e-3

#: Deviation from orthonormality above which a ``rotation`` is accepted with a :class:`RotationPrecisionWarning`.
ROTATION_WARN_ATOL = 1e-6

#: Interpolation methods of ``coordinates``/``displacements`` and the spline order scipy uses for them.
INTERPOLATION_ORDER = {"nearest": 0, "linear": 1, "bspline-cubic": 3, "cubic": 3}


# --------------------------------------------------------------------------------------------------------------------
# axes, coordinate systems, references to coordinate systems


@dataclass(frozen=True)
class Axis:
    """One axis of a coordinate system (``name``, and optional ``type``, ``unit``, ``discrete``, ``longName``).

    Keys the spec does not define are kept in ``extra`` so that writing gives back what was read.
    """

    name: str
    type: str | None = None
    unit: str | None = None
    discrete: bool | None = None
    long_name: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False)

    @classmethod
    def from_dict(cls, value: Any, where: str = "axis") -> Axis:
        """Parse an axis object (a bare string is read as an axis name)."""
        if isinstance(value, str):
            value = {"name": value}
        if not isinstance(value, Mapping):
            raise TransformationError(f"{where}: an axis must be an object with a 'name', got {value!r}")
        name = value.get("name")
        if not isinstance(name, str) or not name:
            raise TransformationError(f"{where}: field 'name' must be a non-empty string, got {name!r}")
        discrete = value.get("discrete")
        if discrete is not None and not isinstance(discrete, bool):
            raise TransformationError(f"{where} {name!r}: field 'discrete' must be a boolean, got {discrete!r}")
        known = {"name", "type", "unit", "discrete", "longName"}
        return cls(
            name=name,
            type=value.get("type"),
            unit=value.get("unit"),
            discrete=discrete,
            long_name=value.get("longName"),
            extra={k: v for k, v in value.items() if k not in known},
        )

    def to_dict(self) -> dict[str, Any]:
        """The axis as a JSON object."""
        out: dict[str, Any] = {"name": self.name}
        for key, value in (("type", self.type), ("unit", self.unit), ("discrete", self.discrete)):
            if value is not None:
                out[key] = value
        if self.long_name is not None:
            out["longName"] = self.long_name
        out.update(self.extra)
        return out


@dataclass(frozen=True)
class CoordinateSystem:
    """A named coordinate system: its ``axes`` give its dimensionality and the order of coordinates."""

    name: str
    axes: tuple[Axis, ...]
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False)

    @property
    def ndim(self) -> int:
        """Number of axes."""
        return len(self.axes)

    @property
    def axis_names(self) -> tuple[str, ...]:
        """Names of the axes, in order."""
        return tuple(a.name for a in self.axes)

    @classmethod
    def from_dict(cls, value: Any, where: str = "coordinate system") -> CoordinateSystem:
        """Parse a coordinate system object; checks the MUST rules (non-empty name, unique axis names)."""
        if not isinstance(value, Mapping):
            raise TransformationError(f"{where}: a coordinate system must be an object, got {value!r}")
        name = value.get("name")
        if not isinstance(name, str) or not name:
            raise TransformationError(f"{where}: field 'name' must be a non-empty string, got {name!r}")
        axes_value = value.get("axes")
        if not isinstance(axes_value, list) or not axes_value:
            raise TransformationError(f"{where} {name!r}: field 'axes' must be a non-empty array, got {axes_value!r}")
        axes = tuple(Axis.from_dict(a, f"{where} {name!r} axes[{i}]") for i, a in enumerate(axes_value))
        names = [a.name for a in axes]
        if len(set(names)) != len(names):
            raise TransformationError(f"{where} {name!r}: axis names must be unique, got {names}")
        return cls(name=name, axes=axes, extra={k: v for k, v in value.items() if k not in ("name", "axes")})

    def to_dict(self) -> dict[str, Any]:
        """The coordinate system as a JSON object."""
        return {"name": self.name, "axes": [a.to_dict() for a in self.axes], **self.extra}


@dataclass(frozen=True)
class CoordinateSystemRef:
    """The ``input`` or ``output`` of a transformation: a coordinate-system ``name`` and/or a group ``path``."""

    name: str | None = None
    path: str | None = None

    @classmethod
    def parse(cls, value: Any, where: str) -> CoordinateSystemRef | None:
        """Parse the 0.6rc0 object form, or the RFC-5 draft form (a plain string naming the coordinate system)."""
        if value is None:
            return None
        if isinstance(value, str):
            return cls(name=value)
        if isinstance(value, Mapping):
            name, path = value.get("name"), value.get("path")
            for key, item in (("name", name), ("path", path)):
                if item is not None and not isinstance(item, str):
                    raise TransformationError(f"{where}: field {key!r} must be a string, got {item!r}")
            extra = set(value) - {"name", "path"}
            if extra:
                raise TransformationError(f"{where}: unknown fields {sorted(extra)} (allowed: 'name', 'path')")
            return cls(name=name, path=path)
        raise TransformationError(f"{where}: must be an object with 'name' and/or 'path', got {value!r}")

    def to_dict(self) -> dict[str, str]:
        """The reference as a JSON object."""
        out = {}
        if self.name is not None:
            out["name"] = self.name
        if self.path is not None:
            out["path"] = self.path
        return out

    def __str__(self) -> str:
        if self.path:
            return f"{self.path}#{self.name}" if self.name is not None else self.path
        return str(self.name)


# --------------------------------------------------------------------------------------------------------------------
# helpers


def _non_number(value: Any) -> Any:
    """The first JSON entry of a (nested) list that is not a number (``true``, ``"1"``, ``null``...), else None."""
    if isinstance(value, list | tuple):
        for item in value:
            bad = _non_number(item)
            if bad is not None:
                return bad
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        return repr(value)
    return None


def _vector(value: Any, where: str, field_name: str) -> np.ndarray:
    bad = _non_number(value) if isinstance(value, list | tuple) else None
    if bad is not None:
        raise TransformationError(f"{where}: field {field_name!r} must be an array of numbers, got {bad} in it")
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise TransformationError(f"{where}: field {field_name!r} must be an array of numbers, got {value!r}") from err
    if arr.ndim != 1 or arr.size == 0:
        raise TransformationError(f"{where}: field {field_name!r} must be a non-empty 1D array, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise TransformationError(f"{where}: field {field_name!r} holds non-finite values {arr.tolist()}")
    return arr


def _matrix(value: Any, where: str, field_name: str) -> np.ndarray:
    if isinstance(value, list) and value and isinstance(value[0], list):
        lengths = {len(row) if isinstance(row, list) else -1 for row in value}
        if len(lengths) != 1 or -1 in lengths:
            raise TransformationError(
                f"{where}: field {field_name!r} must be a rectangular 2D array (rows of equal length)"
            )
    bad = _non_number(value) if isinstance(value, list | tuple) else None
    if bad is not None:
        raise TransformationError(f"{where}: field {field_name!r} must be a 2D array of numbers, got {bad} in it")
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise TransformationError(
            f"{where}: field {field_name!r} must be a 2D array of numbers, got {value!r}"
        ) from err
    if arr.ndim != 2 or arr.size == 0:
        raise TransformationError(f"{where}: field {field_name!r} must be a 2D array, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise TransformationError(f"{where}: field {field_name!r} holds non-finite values")
    return arr


def _int_list(value: Any, where: str, field_name: str, *, allow_names: bool = False) -> list[Any]:
    if not isinstance(value, list):
        raise TransformationError(f"{where}: field {field_name!r} must be an array of integers, got {value!r}")
    out: list[Any] = []
    for item in value:
        if isinstance(item, bool):
            raise TransformationError(f"{where}: field {field_name!r} must hold integers, got {item!r}")
        if isinstance(item, float) and item.is_integer():
            item = int(item)
        if isinstance(item, int):
            if item < 0:
                raise TransformationError(f"{where}: field {field_name!r} holds a negative index {item}")
            out.append(item)
        elif allow_names and isinstance(item, str):
            out.append(item)
        else:
            raise TransformationError(f"{where}: field {field_name!r} must hold integers, got {item!r}")
    if len(set(out)) != len(out):
        raise TransformationError(f"{where}: field {field_name!r} must not repeat an index, got {out}")
    return out


def _num(value: float) -> int | float:
    """A JSON number: integers stay integers so that writing gives back what was read."""
    value = float(value)
    return int(value) if value.is_integer() and abs(value) < 2**53 else value


def _homogeneous(linear: np.ndarray, offset: np.ndarray) -> np.ndarray:
    m, n = linear.shape
    out = np.zeros((m + 1, n + 1))
    out[:m, :n] = linear
    out[:m, n] = offset
    out[m, n] = 1.0
    return out


# --------------------------------------------------------------------------------------------------------------------
# transformations


@dataclass(eq=False)
class Transformation:
    """Base class of the RFC-5 transformation types.

    Attributes
    ----------
    name
        Optional ``name`` of the transformation.
    input, output
        The coordinate systems it maps between (``None`` inside ``sequence``, ``byDimension`` and ``bijection``).
    extra
        Fields the spec does not define for this type, kept so that writing gives back what was read.
    """

    type: ClassVar[str] = ""
    #: Whether ``_apply`` takes points of any real dtype and layout (converting them block by block while it reads
    #: them) instead of C-contiguous float64 only.
    _reads_any_real: ClassVar[bool] = False
    name: str | None = field(default=None, kw_only=True)
    input: CoordinateSystemRef | None = field(default=None, kw_only=True)
    output: CoordinateSystemRef | None = field(default=None, kw_only=True)
    extra: dict[str, Any] = field(default_factory=dict, kw_only=True)

    # -- description ---------------------------------------------------------------------------------------------

    def describe(self) -> str:
        """``"scale transformation 'name'"``, used in error messages."""
        label = f"{self.type} transformation"
        if self.name:
            label += f" {self.name!r}"
        elif self.input is not None or self.output is not None:
            label += f" ({self.input} -> {self.output})"
        return label

    @property
    def ndim_in(self) -> int | None:
        """Input dimensionality, when the parameters fix it."""
        return None

    @property
    def ndim_out(self) -> int | None:
        """Output dimensionality, when the parameters fix it."""
        return None

    def output_ndim_for(self, ndim_in: int) -> int:
        """Output dimensionality for ``ndim_in``-dimensional input points."""
        return self.ndim_out if self.ndim_out is not None else ndim_in

    def check_dims(self, ndim_in: int | None, ndim_out: int | None) -> None:
        """Raise :class:`TransformationError` if the parameters do not fit ``ndim_in`` -> ``ndim_out`` dimensions."""
        if ndim_in is not None and self.ndim_in is not None and ndim_in != self.ndim_in:
            raise TransformationError(
                f"{self.describe()}: parameters are for {self.ndim_in}D input but the input coordinate system "
                f"{self.input} has {ndim_in} axes"
            )
        if ndim_out is not None:
            expected = self.ndim_out
            if expected is None and ndim_in is not None:
                expected = self.output_ndim_for(ndim_in)
            if expected is not None and expected != ndim_out:
                raise TransformationError(
                    f"{self.describe()}: maps to {expected}D points but the output coordinate system "
                    f"{self.output} has {ndim_out} axes"
                )

    # -- applying ------------------------------------------------------------------------------------------------

    def apply(self, points: Any, *, threads: int | None = None) -> Any:
        """Apply the transformation to points.

        Parameters
        ----------
        points
            ``(N, D)`` array of coordinates (numpy, dask or anything ``numpy.asarray`` accepts, of any real dtype,
            C- or Fortran-ordered), one row a point in the input coordinate system. A single point ``(D,)`` is
            accepted too.
        threads
            Most threads used for numpy points (``None``: the CPUs available, at most four). Dask points run one
            thread per chunk, and the dask scheduler decides how many chunks run at once.

        Returns
        -------
        numpy.ndarray or dask.array.Array
            ``(N, D')`` float64 coordinates in the output coordinate system; dask in, dask out (lazy, one task a
            row chunk).

        Examples
        --------
        >>> import numpy as np
        >>> Affine([[0.0, -1.0, 10.0], [1.0, 0.0, 0.0]]).apply(np.array([[1.0, 2.0]], dtype=np.float32))
        array([[8., 1.]])
        """
        if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
            raise TransformationError(f"{self.describe()}: threads must be a positive integer or None, got {threads!r}")
        if _is_dask(points):
            return self._apply_dask(points)
        x = np.asarray(points)
        if not (self._reads_any_real and x.dtype.kind in "fiu"):
            x = np.asarray(x, dtype=np.float64)
        if x.ndim == 1:
            return self.apply(x[None, :], threads=threads)[0]
        if x.ndim != 2:
            raise TransformationError(f"{self.describe()}: points must be an (N, D) array, got shape {x.shape}")
        self._check_points(x.shape[1])
        with thread_limit(threads):
            return self._apply(x)

    def __call__(self, points: Any, *, threads: int | None = None) -> Any:
        """Same as :meth:`apply`."""
        return self.apply(points, threads=threads)

    def _check_points(self, ndim: int) -> None:
        if self.ndim_in is not None and ndim != self.ndim_in:
            raise TransformationError(
                f"{self.describe()}: expects {self.ndim_in}D points, got points with {ndim} coordinates"
            )

    def _apply_dask(self, points: Any) -> Any:
        import dask.array as da
        from dask.base import tokenize

        if points.ndim != 2:
            raise TransformationError(f"{self.describe()}: points must be an (N, D) array, got shape {points.shape}")
        ndim = points.shape[1]
        self._check_points(ndim)
        if points.numblocks[1] > 1:
            points = points.rechunk({1: -1})
        if not (self._reads_any_real and points.dtype.kind in "fiu"):
            points = points.astype(np.float64)
        out_dim = self.output_ndim_for(ndim)
        return da.map_blocks(
            _apply_chunk,
            points,
            transformation=self,
            dtype=np.float64,
            chunks=(points.chunks[0], (out_dim,)),
            name=f"rfc5-{self.type}-" + tokenize(points.name, id(self), out_dim),
            meta=np.empty((0, out_dim)),
        )

    def _apply(self, x: np.ndarray) -> np.ndarray:  # pragma: no cover - every subclass overrides it
        raise NotImplementedError

    # -- inverse, linearity ----------------------------------------------------------------------------------------

    @property
    def is_invertible(self) -> bool:
        """Whether :meth:`inverse` succeeds (a closed-form inverse, or a ``bijection``)."""
        try:
            self.inverse()
        except NotInvertibleError:
            return False
        return True

    def inverse(self) -> Transformation:
        """The inverse transformation (``input`` and ``output`` swapped).

        Raises
        ------
        NotInvertibleError
            The transformation has no closed-form inverse.
        """
        raise NotInvertibleError(f"{self.describe()} has no closed-form inverse; wrap it in a 'bijection'")

    def _inverted(self, other: Transformation) -> Transformation:
        other.input, other.output = self.output, self.input
        if self.name:
            other.name = f"inverse of {self.name}"
        return other

    @property
    def is_linear(self) -> bool:
        """Whether the transformation is one homogeneous matrix (see :meth:`to_affine`)."""
        return False

    def to_affine(self, ndim_in: int | None = None) -> np.ndarray:
        """The ``(M+1, N+1)`` homogeneous matrix of a linear transformation.

        Parameters
        ----------
        ndim_in
            Input dimensionality, needed by ``identity`` (and ``projectAxis``) whose parameters do not fix it.

        Raises
        ------
        TransformationError
            The transformation is not linear (fields, bijections of non-linear steps), or ``ndim_in`` is missing.
        """
        raise TransformationError(f"{self.describe()} is not a linear transformation and has no affine matrix")

    def _need_ndim(self, ndim_in: int | None) -> int:
        ndim = self.ndim_in if self.ndim_in is not None else ndim_in
        if ndim is None:
            raise TransformationError(f"{self.describe()}: the dimensionality is unknown; pass ndim_in")
        return ndim

    # -- JSON ----------------------------------------------------------------------------------------------------

    def to_dict(self, inline: bool = True) -> dict[str, Any]:
        """The transformation as a JSON object in the OME-Zarr 0.6rc0 form.

        Parameters
        ----------
        inline
            Write parameters (``scale``, ``translation``, ``affine``, ``rotation``) inline; with ``False``, a
            transformation read from a ``path`` keeps its ``path``.
        """
        out: dict[str, Any] = {"type": self.type}
        out.update(self._params_dict(inline))
        if self.name is not None:
            out["name"] = self.name
        if self.input is not None:
            out["input"] = self.input.to_dict()
        if self.output is not None:
            out["output"] = self.output.to_dict()
        out.update(self.extra)
        return out

    def _params_dict(self, inline: bool) -> dict[str, Any]:
        return {}

    def children(self) -> list[Transformation]:
        """The nested transformations of ``sequence``, ``byDimension`` and ``bijection`` (empty for others)."""
        return []

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Transformation) or type(other) is not type(self):
            return NotImplemented
        try:
            return self.to_dict() == other.to_dict()
        except ParameterArrayError:
            return self.to_dict(inline=False) == other.to_dict(inline=False)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        try:
            body = self.to_dict()
        except ParameterArrayError:
            body = self.to_dict(inline=False)
        return f"{type(self).__name__}({body})"


def _apply_chunk(chunk: np.ndarray, transformation: Transformation) -> np.ndarray:
    """One row chunk of a dask array, on the thread dask runs it on (dask spreads the chunks over its workers)."""
    with thread_limit(1):
        return transformation._apply(np.asarray(chunk))


def _is_dask(points: Any) -> bool:
    return type(points).__module__.startswith("dask.") and hasattr(points, "map_blocks")


@dataclass(eq=False)
class Identity(Transformation):
    """``identity``: output coordinates equal input coordinates."""

    type: ClassVar[str] = "identity"

    def _apply(self, x: np.ndarray) -> np.ndarray:
        return x.copy()

    def inverse(self) -> Transformation:
        return self._inverted(Identity())

    @property
    def is_linear(self) -> bool:
        return True

    def to_affine(self, ndim_in: int | None = None) -> np.ndarray:
        return np.eye(self._need_ndim(ndim_in) + 1)


@dataclass(eq=False)
class MapAxis(Transformation):
    """``mapAxis``: output axis ``i`` takes the value of input axis ``map_axis[i]`` (a permutation)."""

    type: ClassVar[str] = "mapAxis"
    map_axis: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        perm = [int(i) for i in self.map_axis]
        if sorted(perm) != list(range(len(perm))) or not perm:
            raise TransformationError(
                f"{self.describe()}: field 'mapAxis' must be a permutation of 0..{max(len(perm) - 1, 0)} "
                f"(each input axis exactly once), got {list(self.map_axis)}"
            )
        self.map_axis = perm

    @property
    def ndim_in(self) -> int:
        return len(self.map_axis)

    @property
    def ndim_out(self) -> int:
        return len(self.map_axis)

    def _apply(self, x: np.ndarray) -> np.ndarray:
        return x[:, self.map_axis]

    def inverse(self) -> Transformation:
        return self._inverted(MapAxis(np.argsort(self.map_axis).tolist()))

    @property
    def is_linear(self) -> bool:
        return True

    def to_affine(self, ndim_in: int | None = None) -> np.ndarray:
        n = len(self.map_axis)
        return _homogeneous(np.eye(n)[self.map_axis], np.zeros(n))

    def _params_dict(self, inline: bool) -> dict[str, Any]:
        return {"mapAxis": list(self.map_axis)}


@dataclass(eq=False)
class ProjectAxis(Transformation):
    """``projectAxis``: drop the input axes ``dropped_inputs`` and insert zeros at output ``created_outputs``."""

    type: ClassVar[str] = "projectAxis"
    dropped_inputs: list[int] = field(default_factory=list)
    created_outputs: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.dropped_inputs and not self.created_outputs:
            raise TransformationError(f"{self.describe()}: needs 'droppedInputs' or 'createdOutputs'")
        for key, values in (("droppedInputs", self.dropped_inputs), ("createdOutputs", self.created_outputs)):
            if len(set(values)) != len(values):
                raise TransformationError(f"{self.describe()}: field {key!r} must hold unique indices, got {values}")

    def output_ndim_for(self, ndim_in: int) -> int:
        return ndim_in - len(self.dropped_inputs) + len(self.created_outputs)

    def _check_points(self, ndim: int) -> None:
        bad = [i for i in self.dropped_inputs if i >= ndim]
        if bad:
            raise TransformationError(
                f"{self.describe()}: field 'droppedInputs' refers to axes {bad} of {ndim}D input points"
            )
        out = self.output_ndim_for(ndim)
        bad = [i for i in self.created_outputs if i >= out]
        if bad:
            raise TransformationError(
                f"{self.describe()}: field 'createdOutputs' refers to axes {bad} of {out}D output points"
            )

    def check_dims(self, ndim_in: int | None, ndim_out: int | None) -> None:
        if ndim_in is not None:
            self._check_points(ndim_in)
        super().check_dims(ndim_in, ndim_out)

    def _selection(self, ndim_in: int) -> np.ndarray:
        """For each output axis, the input axis it copies (or -1 for a created axis)."""
        kept = [i for i in range(ndim_in) if i not in set(self.dropped_inputs)]
        out_dim = self.output_ndim_for(ndim_in)
        source = np.full(out_dim, -1)
        it = iter(kept)
        for j in range(out_dim):
            if j not in set(self.created_outputs):
                source[j] = next(it)
        return source

    def _apply(self, x: np.ndarray) -> np.ndarray:
        source = self._selection(x.shape[1])
        out = np.zeros((x.shape[0], source.size))
        keep = source >= 0
        out[:, keep] = x[:, source[keep]]
        return out

    def inverse(self) -> Transformation:
        if self.dropped_inputs:
            raise NotInvertibleError(
                f"{self.describe()} drops input axes {self.dropped_inputs} and has no inverse; wrap it in a 'bijection'"
            )
        # only creates axes: dropping them again gives back every input point
        return self._inverted(ProjectAxis(dropped_inputs=list(self.created_outputs)))

    @property
    def is_linear(self) -> bool:
        return True

    def to_affine(self, ndim_in: int | None = None) -> np.ndarray:
        n = self._need_ndim(ndim_in)
        self._check_points(n)
        source = self._selection(n)
        linear = np.zeros((source.size, n))
        for j, i in enumerate(source):
            if i >= 0:
                linear[j, i] = 1.0
        return _homogeneous(linear, np.zeros(source.size))

    def _params_dict(self, inline: bool) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.dropped_inputs:
            out["droppedInputs"] = list(self.dropped_inputs)
        if self.created_outputs:
            out["createdOutputs"] = list(self.created_outputs)
        return out


@dataclass(eq=False)
class _ParameterTransformation(Transformation):
    """A transformation whose parameters are given inline or by ``path`` to a zarr array."""

    field_name: ClassVar[str] = ""
    path: str | None = field(default=None, kw_only=True)

    def _values(self) -> np.ndarray:
        values = getattr(self, self.field_name)
        if values is None:
            raise ParameterArrayError(
                f"{self.describe()}: its parameters are stored at path {self.path!r}, which was not read; "
                "parse it with the zarr group of its metadata (group=...)"
            )
        return values

    def _params_dict(self, inline: bool) -> dict[str, Any]:
        values = getattr(self, self.field_name)
        if self.path is not None and (not inline or values is None):
            return {"path": self.path}
        return {self.field_name: _json_array(self._values())}


def _json_array(values: np.ndarray) -> Any:
    if values.ndim == 1:
        return [_num(v) for v in values]
    return [[_num(v) for v in row] for row in values]


@dataclass(eq=False)
class Translation(_ParameterTransformation):
    """``translation``: add ``translation`` to the coordinates."""

    type: ClassVar[str] = "translation"
    field_name: ClassVar[str] = "translation"
    _reads_any_real: ClassVar[bool] = True
    translation: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.translation is not None:
            self.translation = _vector(self.translation, self.describe(), "translation")
        elif self.path is None:
            raise TransformationError(f"{self.describe()}: needs 'translation' or 'path'")

    @property
    def ndim_in(self) -> int | None:
        return None if self.translation is None else self.translation.size

    ndim_out = ndim_in

    def _apply(self, x: np.ndarray) -> np.ndarray:
        return apply_per_axis(x, self._values(), np.add)

    def inverse(self) -> Transformation:
        return self._inverted(Translation(-self._values()))

    @property
    def is_linear(self) -> bool:
        return True

    def to_affine(self, ndim_in: int | None = None) -> np.ndarray:
        t = self._values()
        return _homogeneous(np.eye(t.size), t)


@dataclass(eq=False)
class Scale(_ParameterTransformation):
    """``scale``: multiply coordinate ``i`` by ``scale[i]``."""

    type: ClassVar[str] = "scale"
    field_name: ClassVar[str] = "scale"
    _reads_any_real: ClassVar[bool] = True
    scale: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.scale is not None:
            self.scale = _vector(self.scale, self.describe(), "scale")
        elif self.path is None:
            raise TransformationError(f"{self.describe()}: needs 'scale' or 'path'")

    @property
    def ndim_in(self) -> int | None:
        return None if self.scale is None else self.scale.size

    ndim_out = ndim_in

    def _apply(self, x: np.ndarray) -> np.ndarray:
        return apply_per_axis(x, self._values(), np.multiply)

    def inverse(self) -> Transformation:
        s = self._values()
        if np.any(s == 0):
            raise NotInvertibleError(f"{self.describe()}: field 'scale' holds a zero ({s.tolist()}), not invertible")
        return self._inverted(Scale(1.0 / s))

    @property
    def is_linear(self) -> bool:
        return True

    def to_affine(self, ndim_in: int | None = None) -> np.ndarray:
        s = self._values()
        return _homogeneous(np.diag(s), np.zeros(s.size))


@dataclass(eq=False)
class Affine(_ParameterTransformation):
    """``affine``: the upper ``(M, N+1)`` rows of a homogeneous matrix (``N`` inputs, ``M`` outputs)."""

    type: ClassVar[str] = "affine"
    field_name: ClassVar[str] = "affine"
    _reads_any_real: ClassVar[bool] = True
    affine: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.affine is not None:
            m = _matrix(self.affine, self.describe(), "affine")
            if m.shape[1] < 2:
                raise TransformationError(
                    f"{self.describe()}: field 'affine' must have N+1 >= 2 columns, got {m.shape}"
                )
            self.affine = m
        elif self.path is None:
            raise TransformationError(f"{self.describe()}: needs 'affine' or 'path'")

    @classmethod
    def from_matrix(cls, matrix: np.ndarray, **kwargs: Any) -> Affine:
        """An ``affine`` from a homogeneous ``(M+1, N+1)`` matrix."""
        return cls(np.asarray(matrix, dtype=np.float64)[:-1], **kwargs)

    @property
    def ndim_in(self) -> int | None:
        return None if self.affine is None else self.affine.shape[1] - 1

    @property
    def ndim_out(self) -> int | None:
        return None if self.affine is None else self.affine.shape[0]

    def _apply(self, x: np.ndarray) -> np.ndarray:
        a = self._values()
        return apply_linear(x, a[:, :-1], a[:, -1])

    def inverse(self) -> Transformation:
        m = self.to_affine()
        if m.shape[0] != m.shape[1]:
            raise NotInvertibleError(
                f"{self.describe()}: maps {self.ndim_in}D to {self.ndim_out}D points and has no inverse"
            )
        if abs(np.linalg.det(m)) < 1e-12 * max(1.0, float(np.abs(m).max()) ** m.shape[0]):
            raise NotInvertibleError(f"{self.describe()}: the matrix is singular and has no inverse")
        return self._inverted(Affine.from_matrix(np.linalg.inv(m)))

    @property
    def is_linear(self) -> bool:
        return True

    def to_affine(self, ndim_in: int | None = None) -> np.ndarray:
        a = self._values()
        out = np.zeros((a.shape[0] + 1, a.shape[1]))
        out[:-1] = a
        out[-1, -1] = 1.0
        return out


@dataclass(eq=False)
class Rotation(_ParameterTransformation):
    """``rotation``: an ``N x N`` orthonormal matrix with determinant one, applied to column vectors.

    Matrices written with limited precision are accepted: one whose singular values are all within ``atol`` of one
    (default :data:`ROTATION_ATOL`, ``1e-3``) is used exactly as written, with a :class:`RotationPrecisionWarning`
    when it is off by more than ``warn_atol`` (default :data:`ROTATION_WARN_ATOL`, ``1e-6``); its inverse is then
    the matrix inverse, not the transpose. A matrix that is further off (a shear, a scale) or has a negative
    determinant (a reflection) is refused with a :class:`TransformationError` naming the field ``rotation``.
    """

    type: ClassVar[str] = "rotation"
    field_name: ClassVar[str] = "rotation"
    _reads_any_real: ClassVar[bool] = True
    rotation: np.ndarray | None = None
    atol: float = field(default=ROTATION_ATOL, kw_only=True, repr=False)
    warn_atol: float = field(default=ROTATION_WARN_ATOL, kw_only=True, repr=False)

    def __post_init__(self) -> None:
        if self.rotation is not None:
            self.rotation = _check_rotation(
                _matrix(self.rotation, self.describe(), "rotation"), self.describe(), self.atol, self.warn_atol
            )
        elif self.path is None:
            raise TransformationError(f"{self.describe()}: needs 'rotation' or 'path'")

    @property
    def ndim_in(self) -> int | None:
        return None if self.rotation is None else self.rotation.shape[0]

    ndim_out = ndim_in

    def _apply(self, x: np.ndarray) -> np.ndarray:
        return apply_linear(x, self._values())

    def inverse(self) -> Transformation:
        r = self._values()
        # the transpose is the inverse only of an exactly orthonormal matrix; a rounded one needs the real inverse,
        # or applying the rotation and then its inverse would be off by the rounding
        exact = rotation_deviation(r) <= 8 * np.finfo(np.float64).eps
        inv = r.T.copy() if exact else np.linalg.inv(r)
        # the caller was warned about this matrix already; its inverse is off by the same amount
        return self._inverted(Rotation(inv, atol=math.inf, warn_atol=math.inf))

    @property
    def is_linear(self) -> bool:
        return True

    def to_affine(self, ndim_in: int | None = None) -> np.ndarray:
        r = self._values()
        return _homogeneous(r, np.zeros(r.shape[0]))


def rotation_deviation(r: np.ndarray) -> float:
    """How far a square matrix is from orthonormal: ``max |σᵢ - 1|`` over its singular values ``σᵢ``.

    This is the largest relative change of the length of a vector that the matrix makes, so a matrix with deviation
    ``d`` maps every point within a relative ``d`` of where the exact rotation would.

    Parameters
    ----------
    r
        ``N x N`` matrix.

    Returns
    -------
    float
        ``0.0`` for an exactly orthonormal matrix.

    Examples
    --------
    >>> rotation_deviation(np.array([[0.0, -1.0], [1.0, 0.0]]))
    0.0
    >>> round(rotation_deviation(np.array([[0.17, -0.985], [0.985, 0.17]])), 6)
    0.000438
    """
    return float(np.abs(np.linalg.svd(np.asarray(r, dtype=np.float64), compute_uv=False) - 1.0).max())


def _check_rotation(r: np.ndarray, where: str, atol: float, warn_atol: float) -> np.ndarray:
    if r.shape[0] != r.shape[1]:
        raise TransformationError(f"{where}: field 'rotation' must be a square N x N matrix, got shape {r.shape}")
    deviation = rotation_deviation(r)
    if deviation > atol:
        raise TransformationError(
            f"{where}: field 'rotation' is not orthonormal: it changes lengths by up to {deviation:.3g} "
            f"(max |singular value - 1|), more than the tolerance {atol:g}; a shear or scale is an 'affine'"
        )
    det = float(np.linalg.det(r))
    if det < 0:
        raise TransformationError(
            f"{where}: field 'rotation' must have determinant 1, got {det:.6g} (a reflection); use an 'affine'"
        )
    if deviation > warn_atol:
        warnings.warn(
            f"{where}: field 'rotation' is orthonormal only to {deviation:.3g} (max |singular value - 1|, "
            f"more than {warn_atol:g}); it is used as written",
            RotationPrecisionWarning,
            stacklevel=4,  # the code that built the Rotation (past _check_rotation, __post_init__, __init__)
        )
    return r


@dataclass(eq=False)
class Sequence_(Transformation):
    """``sequence``: apply ``transformations[0]`` first, then ``transformations[1]``, and so on."""

    type: ClassVar[str] = "sequence"
    transformations: list[Transformation] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.transformations:
            raise TransformationError(f"{self.describe()}: field 'transformations' must be a non-empty array")
        for t in self.transformations:
            if not isinstance(t, Transformation):
                raise TransformationError(f"{self.describe()}: field 'transformations' holds {t!r}")
        # consecutive steps must agree on dimensionality where their parameters fix it
        ndim = None
        for t in self.transformations:
            if ndim is not None:
                t.check_dims(ndim, None)
            ndim = t.output_ndim_for(ndim) if ndim is not None else t.ndim_out

    @property
    def ndim_in(self) -> int | None:
        for t in self.transformations:
            if t.ndim_in is not None:
                return t.ndim_in
            if t.ndim_out is not None or isinstance(t, ProjectAxis):
                return None
        return None

    def output_ndim_for(self, ndim_in: int) -> int:
        for t in self.transformations:
            ndim_in = t.output_ndim_for(ndim_in)
        return ndim_in

    @property
    def ndim_out(self) -> int | None:
        if self.ndim_in is not None:
            return self.output_ndim_for(self.ndim_in)
        for t in reversed(self.transformations):
            if t.ndim_out is not None:
                return t.ndim_out
            if isinstance(t, ProjectAxis):
                return None
        return None

    def _check_no_subspace(self) -> None:
        for t in self.transformations:
            _check_subspace(t, self)

    def _check_points(self, ndim: int) -> None:
        self._check_no_subspace()
        for t in self.transformations:
            t._check_points(ndim)
            ndim = t.output_ndim_for(ndim)

    def _apply(self, x: np.ndarray) -> np.ndarray:
        for t in self.transformations:
            _check_subspace(t, self)
            x = t._apply(x)
        return x

    def inverse(self) -> Transformation:
        self._check_no_subspace()
        try:
            steps = [t.inverse() for t in reversed(self.transformations)]
        except NotInvertibleError as err:
            raise NotInvertibleError(f"{self.describe()}: a step is not invertible: {err}") from err
        return self._inverted(Sequence_(steps))

    @property
    def is_linear(self) -> bool:
        return all(t.is_linear for t in self.transformations)

    def to_affine(self, ndim_in: int | None = None) -> np.ndarray:
        self._check_no_subspace()
        ndim = self.ndim_in if self.ndim_in is not None else ndim_in
        result = None
        for t in self.transformations:
            m = t.to_affine(ndim)
            result = m if result is None else m @ result
            ndim = m.shape[0] - 1
        assert result is not None
        return result

    def _params_dict(self, inline: bool) -> dict[str, Any]:
        return {"transformations": [t.to_dict(inline) for t in self.transformations]}

    def children(self) -> list[Transformation]:
        return list(self.transformations)


#: ``sequence`` under its natural name; ``Sequence_`` avoids shadowing :class:`collections.abc.Sequence` here.
Sequence = Sequence_


def _check_subspace(t: Transformation, parent: Transformation) -> None:
    if "inputAxes" in t.extra or "input_axes" in t.extra:
        raise TransformationError(
            f"{parent.describe()}: step {t.describe()} carries inputAxes/outputAxes; subspace steps are only "
            "defined inside 'byDimension'"
        )


@dataclass(eq=False)
class ByDimensionItem:
    """One child of a ``byDimension``: ``transformation`` maps input axes ``input_axes`` to ``output_axes``.

    Axis entries are integer indices (0.6rc0) or, in files written from the RFC-5 draft, axis names that are
    resolved against the parent's coordinate systems by :meth:`ByDimension.bind`.
    """

    transformation: Transformation
    input_axes: list[Any]
    output_axes: list[Any]
    form: str = "wrapped"  # "wrapped" (0.6rc0), "draft-wrapped" or "flat" (type fields beside the axes)


@dataclass(eq=False)
class ByDimension(Transformation):
    """``byDimension``: lower-dimensional transformations on subsets of the axes."""

    type: ClassVar[str] = "byDimension"
    transformations: list[ByDimensionItem] = field(default_factory=list)
    ndim: int | None = field(default=None, kw_only=True, repr=False)

    def __post_init__(self) -> None:
        if not self.transformations:
            raise TransformationError(f"{self.describe()}: field 'transformations' must be a non-empty array")
        seen: dict[Any, int] = {}
        for k, item in enumerate(self.transformations):
            where = f"{self.describe()} transformations[{k}]"
            t = item.transformation
            if len(item.input_axes) == 0 or len(item.output_axes) == 0:
                raise TransformationError(f"{where}: 'inputAxes' and 'outputAxes' must be non-empty")
            if t.ndim_in is not None and t.ndim_in != len(item.input_axes):
                raise TransformationError(
                    f"{where}: {t.describe()} takes {t.ndim_in}D input but 'inputAxes' lists "
                    f"{len(item.input_axes)} axes"
                )
            if len(item.output_axes) != t.output_ndim_for(len(item.input_axes)):
                raise TransformationError(
                    f"{where}: {t.describe()} gives {t.output_ndim_for(len(item.input_axes))}D output but "
                    f"'outputAxes' lists {len(item.output_axes)} axes"
                )
            for axis in item.output_axes:
                if axis in seen:
                    raise TransformationError(
                        f"{self.describe()}: output axis {axis!r} appears in transformations[{seen[axis]}] and "
                        f"transformations[{k}]; every output axis must appear in exactly one 'outputAxes'"
                    )
                seen[axis] = k

    def _indices(self) -> list[tuple[Transformation, list[int], list[int]]]:
        out = []
        for item in self.transformations:
            if any(isinstance(a, str) for a in (*item.input_axes, *item.output_axes)):
                raise TransformationError(
                    f"{self.describe()}: axes are given by name ({item.input_axes} -> {item.output_axes}); bind it to "
                    "its coordinate systems first (ByDimension.bind or a TransformGraph)"
                )
            out.append((item.transformation, list(item.input_axes), list(item.output_axes)))
        return out

    def bind(self, input_axes: list[str] | tuple[str, ...], output_axes: list[str] | tuple[str, ...]) -> None:
        """Resolve axis names (RFC-5 draft) into indices of the given input and output axis names."""
        for k, item in enumerate(self.transformations):
            for attr, names, side in (("input_axes", input_axes, "input"), ("output_axes", output_axes, "output")):
                resolved = []
                for a in getattr(item, attr):
                    if isinstance(a, str):
                        if a not in names:
                            raise TransformationError(
                                f"{self.describe()} transformations[{k}]: axis {a!r} is not an axis of the {side} "
                                f"coordinate system {list(names)}"
                            )
                        a = list(names).index(a)
                    resolved.append(a)
                setattr(item, attr, resolved)

    @property
    def ndim_out(self) -> int | None:
        try:
            return max(max(o) for _, _, o in self._indices()) + 1
        except TransformationError:
            return None

    def output_ndim_for(self, ndim_in: int) -> int:
        n = self.ndim_out
        return n if n is not None else ndim_in

    def check_dims(self, ndim_in: int | None, ndim_out: int | None) -> None:
        items = self._indices()
        if ndim_in is not None:
            for t, i, _ in items:
                bad = [a for a in i if a >= ndim_in]
                if bad:
                    raise TransformationError(
                        f"{self.describe()}: 'inputAxes' {i} of {t.describe()} refers to axes {bad} but the input "
                        f"coordinate system {self.input} has {ndim_in} axes"
                    )
        if ndim_out is not None:
            covered = sorted(a for _, _, o in items for a in o)
            if covered != list(range(ndim_out)):
                raise TransformationError(
                    f"{self.describe()}: every axis of the output coordinate system {self.output} (0..{ndim_out - 1}) "
                    f"must appear in exactly one 'outputAxes', got {covered}"
                )

    def _check_points(self, ndim: int) -> None:
        self.check_dims(ndim, None)

    def _apply(self, x: np.ndarray) -> np.ndarray:
        items = self._indices()
        out = np.empty((x.shape[0], self.output_ndim_for(x.shape[1])))
        for t, i, o in items:
            out[:, o] = t._apply(x[:, i])
        return out

    def inverse(self) -> Transformation:
        items = self._indices()
        used = sorted(a for _, i, _ in items for a in i)
        if len(set(used)) != len(used):
            raise NotInvertibleError(f"{self.describe()}: an input axis feeds several children; not invertible")
        n_out = self.ndim_out
        if used != list(range(n_out or 0)):
            raise NotInvertibleError(f"{self.describe()}: input axes {used} are not all recovered; not invertible")
        inverted = []
        for t, i, o in items:
            try:
                inverted.append(ByDimensionItem(t.inverse(), list(o), list(i)))
            except NotInvertibleError as err:
                raise NotInvertibleError(f"{self.describe()}: a child is not invertible: {err}") from err
        return self._inverted(ByDimension(inverted))

    @property
    def is_linear(self) -> bool:
        return all(item.transformation.is_linear for item in self.transformations)

    def to_affine(self, ndim_in: int | None = None) -> np.ndarray:
        items = self._indices()
        n = ndim_in if ndim_in is not None else max(max(i) for _, i, _ in items) + 1
        n_out = self.output_ndim_for(n)
        out = np.zeros((n_out + 1, n + 1))
        out[-1, -1] = 1.0
        for t, i, o in items:
            m = t.to_affine(len(i))
            out[np.ix_(o, i)] = m[:-1, :-1]
            out[o, -1] = m[:-1, -1]
        return out

    def _params_dict(self, inline: bool) -> dict[str, Any]:
        items = []
        for item in self.transformations:
            items.append(
                {
                    "transformation": item.transformation.to_dict(inline),
                    "inputAxes": item.input_axes,
                    "outputAxes": item.output_axes,
                }
            )
        return {"transformations": items}

    def children(self) -> list[Transformation]:
        return [item.transformation for item in self.transformations]


@dataclass(eq=False)
class Bijection(Transformation):
    """``bijection``: an explicit ``forward`` transformation and its ``inverse``."""

    type: ClassVar[str] = "bijection"
    forward: Transformation | None = None
    inverse_: Transformation | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.forward, Transformation) or not isinstance(self.inverse_, Transformation):
            raise TransformationError(f"{self.describe()}: needs both 'forward' and 'inverse' transformations")
        f, i = self.forward, self.inverse_
        if f.ndim_in is not None and f.ndim_out is not None and f.ndim_in != f.ndim_out:
            raise TransformationError(f"{self.describe()}: input and output must have equal dimension (forward)")
        for a, b, what in (
            (f.ndim_in, i.ndim_out, "forward input / inverse output"),
            (f.ndim_out, i.ndim_in, "forward output / inverse input"),
        ):
            if a is not None and b is not None and a != b:
                raise TransformationError(f"{self.describe()}: dimensions of {what} differ ({a} vs {b})")

    @property
    def ndim_in(self) -> int | None:
        assert self.forward is not None and self.inverse_ is not None
        return self.forward.ndim_in if self.forward.ndim_in is not None else self.inverse_.ndim_out

    @property
    def ndim_out(self) -> int | None:
        assert self.forward is not None and self.inverse_ is not None
        return self.forward.ndim_out if self.forward.ndim_out is not None else self.inverse_.ndim_in

    def _check_points(self, ndim: int) -> None:
        assert self.forward is not None
        super()._check_points(ndim)
        self.forward._check_points(ndim)

    def _apply(self, x: np.ndarray) -> np.ndarray:
        assert self.forward is not None
        return self.forward._apply(x)

    def inverse(self) -> Transformation:
        assert self.forward is not None and self.inverse_ is not None
        return Bijection(
            forward=self.inverse_, inverse_=self.forward, name=self.name, input=self.output, output=self.input
        )

    @property
    def is_linear(self) -> bool:
        assert self.forward is not None
        return self.forward.is_linear

    def to_affine(self, ndim_in: int | None = None) -> np.ndarray:
        assert self.forward is not None
        return self.forward.to_affine(ndim_in)

    def _params_dict(self, inline: bool) -> dict[str, Any]:
        assert self.forward is not None and self.inverse_ is not None
        return {"forward": self.forward.to_dict(inline), "inverse": self.inverse_.to_dict(inline)}

    def children(self) -> list[Transformation]:
        assert self.forward is not None and self.inverse_ is not None
        return [self.forward, self.inverse_]


@dataclass(eq=False)
class _FieldTransformation(Transformation):
    """``coordinates`` or ``displacements``: a vector field at ``path``, sampled by interpolation."""

    path: str = ""
    interpolation: str | None = None
    field_: VectorField | None = field(default=None, kw_only=True, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.path, str) or not self.path:
            raise TransformationError(f"{self.describe()}: field 'path' must be a non-empty string")
        if self.interpolation is not None and self.interpolation not in INTERPOLATION_ORDER:
            raise TransformationError(
                f"{self.describe()}: field 'interpolation' must be one of {sorted(INTERPOLATION_ORDER)}, "
                f"got {self.interpolation!r}"
            )

    @property
    def order(self) -> int:
        """Spline order used by :func:`scipy.ndimage.map_coordinates` (``linear`` by default)."""
        return INTERPOLATION_ORDER[self.interpolation or "linear"]

    def _field(self) -> VectorField:
        if self.field_ is None:
            raise ParameterArrayError(
                f"{self.describe()}: the field at path {self.path!r} was not read; parse it with the zarr group of "
                "its metadata (group=...)"
            )
        return self.field_

    @property
    def ndim_in(self) -> int | None:
        return None if self.field_ is None else self.field_.ndim

    def _params_dict(self, inline: bool) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path}
        if self.interpolation is not None:
            out["interpolation"] = self.interpolation
        return out


@dataclass(eq=False)
class Coordinates(_FieldTransformation):
    """``coordinates``: the output point is the (interpolated) coordinate vector stored for the input point."""

    type: ClassVar[str] = "coordinates"

    @property
    def ndim_out(self) -> int | None:
        return None if self.field_ is None else self.field_.ncomponents

    def _apply(self, x: np.ndarray) -> np.ndarray:
        return self._field().sample(x, self.order)


@dataclass(eq=False)
class Displacements(_FieldTransformation):
    """``displacements``: the (interpolated) displacement stored for the input point is added to it."""

    type: ClassVar[str] = "displacements"

    @property
    def ndim_out(self) -> int | None:
        return self.ndim_in

    def _apply(self, x: np.ndarray) -> np.ndarray:
        return x + self._field().sample(x, self.order)


@dataclass(eq=False)
class VectorField:
    """A regular grid of vectors: ``values`` has shape ``(*grid, K)``.

    ``to_index`` is the homogeneous matrix mapping a point of the input coordinate system to continuous array
    indices of the grid (the inverse of the field's own scale/translation metadata).
    """

    values: np.ndarray
    to_index: np.ndarray

    @property
    def ndim(self) -> int:
        """Dimensionality of the input points."""
        return self.values.ndim - 1

    @property
    def ncomponents(self) -> int:
        """Number of vector components (the output dimensionality of ``coordinates``)."""
        return self.values.shape[-1]

    def sample(self, x: np.ndarray, order: int) -> np.ndarray:
        """Interpolate the field at ``(P, N)`` points (scipy ``map_coordinates``; the edge value outside the grid)."""
        from scipy import ndimage

        index = apply_affine(self.to_index, x).T
        out = np.empty((x.shape[0], self.ncomponents))
        for k in range(self.ncomponents):
            component = np.ascontiguousarray(self.values[..., k])
            out[:, k] = ndimage.map_coordinates(component, index, order=order, mode="nearest", prefilter=order > 1)
        return out


TYPES: dict[str, type[Transformation]] = {
    cls.type: cls
    for cls in (
        Identity,
        MapAxis,
        ProjectAxis,
        Translation,
        Scale,
        Affine,
        Rotation,
        Sequence_,
        Coordinates,
        Displacements,
        ByDimension,
        Bijection,
    )
}


# --------------------------------------------------------------------------------------------------------------------
# parsing


_COMMON = {"type", "name", "input", "output"}


def parse_transformation(
    value: Any,
    *,
    group: zarr.Group | None = None,
    where: str = "transformation",
    loader: Callable[[zarr.Group, str, str], Any] | None = None,
) -> Transformation:
    """Parse one transformation object (0.6rc0 or RFC-5 draft form).

    Parameters
    ----------
    value
        The JSON object (a ``dict``) or a JSON string.
    group
        The zarr group holding the metadata; parameters and fields given by ``path`` are read relative to it
        (a path starting with ``/`` from the root of its store). Without it, ``path`` transformations are kept
        unresolved: they can be written back but not applied.
    where
        Where the object sits, for error messages.
    loader
        Internal: how arrays are read.

    Returns
    -------
    Transformation

    Raises
    ------
    TransformationError
        Malformed metadata; the message names the transformation and the field.
    UnknownTransformationTypeError
        ``type`` is not an RFC-5 type.
    ParameterArrayError
        An array named by ``path`` is missing or has the wrong shape.
    """
    import json

    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as err:
            raise TransformationError(f"{where}: not valid JSON ({err})") from err
    if not isinstance(value, Mapping):
        raise TransformationError(f"{where}: a transformation must be an object, got {value!r}")
    # a JSON null is read as an absent optional field: ome-zarr-models writes every field it does not set as null
    # (``"name": null``, ``"createdOutputs": null``...), which the 0.6rc0 schema does not allow but means "absent"
    value = {k: v for k, v in value.items() if v is not None}
    kind = value.get("type")
    name = value.get("name")
    label = (
        f"{kind} transformation"
        + (f" {name!r}" if name else "")
        + (f" at {where}" if where != "transformation" else "")
    )
    if kind not in TYPES:
        raise UnknownTransformationTypeError(
            f"{where}: unknown transformation type {kind!r} (expected one of {sorted(TYPES)})"
        )
    if name is not None and not isinstance(name, str):
        raise TransformationError(f"{label}: field 'name' must be a string, got {name!r}")
    common: dict[str, Any] = {
        "name": name,
        "input": CoordinateSystemRef.parse(value.get("input"), f"{label} field 'input'"),
        "output": CoordinateSystemRef.parse(value.get("output"), f"{label} field 'output'"),
    }
    load = loader or _load_array

    def params(field_name: str, kinds: tuple[str, ...] = ()) -> tuple[Any, str | None, set[str]]:
        used = {field_name, "path"}
        inline, path = value.get(field_name), value.get("path")
        if inline is not None and path is not None:
            raise TransformationError(f"{label}: give either {field_name!r} or 'path', not both")
        if inline is None and path is None:
            raise TransformationError(f"{label}: missing field {field_name!r} (or 'path')")
        if path is not None:
            if not isinstance(path, str) or not path:
                raise TransformationError(f"{label}: field 'path' must be a non-empty string, got {path!r}")
            if group is not None:
                inline = load(group, path, label)
        return inline, path, used

    def rest(used: set[str]) -> dict[str, Any]:
        return {k: v for k, v in value.items() if k not in _COMMON | used}

    try:
        if kind == "identity":
            return Identity(**common, extra=rest(set()))
        if kind == "mapAxis":
            if "mapAxis" not in value:
                raise TransformationError(f"{label}: missing field 'mapAxis'")
            perm = value["mapAxis"]
            if isinstance(perm, Mapping):
                raise TransformationError(
                    f"{label}: field 'mapAxis' is an object (an older draft form); 0.6rc0 requires an array of "
                    "integer indices"
                )
            return MapAxis(_int_list(perm, label, "mapAxis"), **common, extra=rest({"mapAxis"}))
        if kind == "projectAxis":
            dropped = _int_list(value.get("droppedInputs", []), label, "droppedInputs")
            created = _int_list(value.get("createdOutputs", []), label, "createdOutputs")
            return ProjectAxis(dropped, created, **common, extra=rest({"droppedInputs", "createdOutputs"}))
        if kind in ("translation", "scale"):
            inline, path, used = params(kind)
            if inline is not None:
                inline = _vector(inline, label, kind if path is None else f"{kind} (array at path {path!r})")
            return TYPES[kind](inline, path=path, **common, extra=rest(used))
        if kind in ("affine", "rotation"):
            inline, path, used = params(kind)
            if inline is not None:
                inline = _matrix(inline, label, kind if path is None else f"{kind} (array at path {path!r})")
            return TYPES[kind](inline, path=path, **common, extra=rest(used))
        if kind == "sequence":
            steps = value.get("transformations")
            if not isinstance(steps, list) or not steps:
                raise TransformationError(f"{label}: field 'transformations' must be a non-empty array")
            children = [
                parse_transformation(s, group=group, where=f"{where}.transformations[{k}]", loader=loader)
                for k, s in enumerate(steps)
            ]
            return Sequence_(children, **common, extra=rest({"transformations"}))
        if kind == "byDimension":
            return _parse_by_dimension(value, common, label, where, group, loader, rest)
        if kind == "bijection":
            parts = {}
            for key in ("forward", "inverse"):
                if key not in value:
                    raise TransformationError(f"{label}: missing field {key!r}")
                parts[key] = parse_transformation(value[key], group=group, where=f"{where}.{key}", loader=loader)
            return Bijection(parts["forward"], parts["inverse"], **common, extra=rest({"forward", "inverse"}))
        # coordinates / displacements
        path = value.get("path")
        if not isinstance(path, str) or not path:
            raise TransformationError(f"{label}: field 'path' must be a non-empty string, got {path!r}")
        interpolation = value.get("interpolation")
        t = TYPES[kind](path, interpolation, **common, extra=rest({"path", "interpolation"}))
        if group is not None:
            from spatialdata_plugins.transforms._store import load_field

            assert isinstance(t, _FieldTransformation)
            t.field_ = load_field(group, path, t.describe(), kind)
        return t
    except TransformationError:
        raise
    except (TypeError, ValueError) as err:  # pragma: no cover - defensive: keep every failure in our hierarchy
        raise TransformationError(f"{label}: {err}") from err


def _parse_by_dimension(value, common, label, where, group, loader, rest) -> ByDimension:
    items_value = value.get("transformations")
    if not isinstance(items_value, list) or not items_value:
        raise TransformationError(f"{label}: field 'transformations' must be a non-empty array")
    items = []
    for k, item in enumerate(items_value):
        at = f"{where}.transformations[{k}]"
        if not isinstance(item, Mapping):
            raise TransformationError(f"{label} transformations[{k}]: must be an object, got {item!r}")
        in_key = "inputAxes" if "inputAxes" in item else "input_axes"
        out_key = "outputAxes" if "outputAxes" in item else "output_axes"
        if in_key not in item or out_key not in item:
            raise TransformationError(f"{label} transformations[{k}]: needs 'inputAxes' and 'outputAxes'")
        in_axes = _int_list(item[in_key], f"{label} transformations[{k}]", in_key, allow_names=True)
        out_axes = _int_list(item[out_key], f"{label} transformations[{k}]", out_key, allow_names=True)
        if "transformation" in item:
            child = parse_transformation(
                item["transformation"], group=group, where=f"{at}.transformation", loader=loader
            )
            form = "wrapped" if in_key == "inputAxes" else "draft-wrapped"
        else:  # draft: the child's own fields sit beside its axes
            flat = {k2: v for k2, v in item.items() if k2 not in (in_key, out_key)}
            child = parse_transformation(flat, group=group, where=at, loader=loader)
            form = "flat"
        items.append(ByDimensionItem(child, in_axes, out_axes, form))
    return ByDimension(items, **common, extra=rest({"transformations"}))


def _load_array(group: zarr.Group, path: str, label: str) -> np.ndarray:
    from spatialdata_plugins.transforms._store import load_array

    return load_array(group, path, label)


# --------------------------------------------------------------------------------------------------------------------
# simplification


def simplify(t: Transformation, ndim_in: int | None = None) -> Transformation:
    """Collapse runs of linear steps into one ``affine`` (one matrix product when applied).

    A linear transformation (``identity``, ``mapAxis``, ``projectAxis``, ``translation``, ``scale``, ``affine``,
    ``rotation``, and ``sequence``/``byDimension``/``bijection`` made of them) becomes one ``affine``; in a sequence
    with non-linear steps (fields), each run of linear steps becomes one ``affine``. ``input``/``output`` and
    ``name`` are kept.

    Parameters
    ----------
    t
        The transformation.
    ndim_in
        Input dimensionality, when the parameters do not fix it (a bare ``identity``).

    Returns
    -------
    Transformation
        An equivalent transformation: the same points come out, up to floating-point rounding.
    """
    keep = {"name": t.name, "input": t.input, "output": t.output}
    ndim = t.ndim_in if t.ndim_in is not None else ndim_in
    if t.is_linear and not isinstance(t, Bijection):
        try:
            return Affine.from_matrix(t.to_affine(ndim), **keep)
        except TransformationError:
            if ndim is None and isinstance(t, Identity):
                return copy.copy(t)
            raise
    if isinstance(t, Bijection):
        assert t.forward is not None and t.inverse_ is not None
        return Bijection(simplify(t.forward, ndim), simplify(t.inverse_, t.ndim_out), **keep)
    if isinstance(t, Sequence_):
        t._check_no_subspace()
        steps: list[Transformation] = []
        run: list[Transformation] = []
        run_ndim = ndim

        def flush() -> None:
            nonlocal run, run_ndim
            if run:
                matrix = Sequence_(run).to_affine(run_ndim)
                steps.append(Affine.from_matrix(matrix))
                run_ndim = matrix.shape[0] - 1
            run = []

        for step in _flatten(t):
            if step.is_linear and not isinstance(step, Bijection):
                if not run and run_ndim is None:
                    run_ndim = step.ndim_in
                run.append(step)
                continue
            flush()
            simple = simplify(step, run_ndim)
            steps.append(simple)
            run_ndim = simple.ndim_out
        flush()
        if len(steps) == 1:
            only = steps[0]
            only.name, only.input, only.output = t.name, t.input, t.output
            return only
        return Sequence_(steps, **keep)
    return t


def _flatten(t: Sequence_) -> Iterable[Transformation]:
    for step in t.transformations:
        if isinstance(step, Sequence_):
            yield from _flatten(step)
        else:
            yield step


def compose(
    *steps: Transformation, input: CoordinateSystemRef | None = None, output: CoordinateSystemRef | None = None
) -> Transformation:
    """A ``sequence`` of ``steps`` (their own ``input``/``output`` are dropped), or the single step itself."""
    copies = []
    for s in steps:
        c = copy.copy(s)
        c.input = c.output = None
        copies.append(c)
    if len(copies) == 1:
        copies[0].input, copies[0].output = input, output
        return copies[0]
    return Sequence_(copies, input=input, output=output)


def angle_rotation(angle: float, axes: tuple[int, int] = (0, 1), ndim: int = 2) -> Rotation:
    """A ``rotation`` by ``angle`` radians in the plane of ``axes`` (a convenience for tests and users)."""
    r = np.eye(ndim)
    i, j = axes
    c, s = math.cos(angle), math.sin(angle)
    r[i, i], r[i, j], r[j, i], r[j, j] = c, -s, s, c
    return Rotation(r)
