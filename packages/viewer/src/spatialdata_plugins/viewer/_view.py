"""``view``: open a SpatialData store in Neuroglancer, every element placed in one coordinate system."""

from __future__ import annotations

import tempfile
import threading
import warnings
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import numpy as np

from spatialdata_plugins.core import InvalidArgumentError
from spatialdata_plugins.viewer._precomputed import UNIT_SCALE
from spatialdata_plugins.viewer._server import DataServer, ServeLog

#: command-line flags that make headless Chromium render WebGL2 through SwiftShader and stay off the network
CHROMIUM_FLAGS = (
    "--headless=new",
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
)

#: colours of the genes given with ``genes=``, in order (then the palette repeats)
GENE_PALETTE = ("#ff3030", "#30ff30", "#3090ff", "#ffff30", "#ff30ff", "#30ffff", "#ff9030", "#ffffff")

_NG_LOCK = threading.Lock()
_NG_USERS = 0


class ViewerWarning(UserWarning):
    """An element could not be shown (for example points without an index); the others are."""


@dataclass
class ViewerSession:
    """A running viewer: the neuroglancer viewer, the data server and what it served.

    Use :meth:`stop` (or the session as a context manager) to shut both servers down.
    """

    viewer: Any
    server: DataServer
    coordinate_system: str
    layers: dict[str, str] = field(default_factory=dict)
    genes: list[str] = field(default_factory=list)
    _stopped: bool = False

    @property
    def url(self) -> str:
        """The viewer's URL (open it in a browser)."""
        return str(self.viewer.get_viewer_url())

    @property
    def log(self) -> ServeLog:
        """Every request the data server answered (the bytes served per view)."""
        return self.server.log

    def set_genes(self, genes: list[str] | None, points: str | None = None) -> None:
        """Show only these genes of the points layers (``None``: every gene, coloured by gene).

        Parameters
        ----------
        genes
            Gene names, or ``None`` for every gene.
        points
            Only this points layer (default: every points layer).
        """
        with self.viewer.txn() as s:
            for name, kind in self.layers.items():
                if kind == "points" and points in (None, name):
                    source = self.server.sources["points"][name]
                    s.layers[name].shader = gene_shader(source.genes, genes)
        self.genes = list(genes or [])

    def stop(self) -> None:
        """Stop the data server and, when no other session uses it, neuroglancer's server."""
        global _NG_USERS
        if self._stopped:
            return
        self._stopped = True
        self.server.stop()
        import neuroglancer

        with _NG_LOCK:
            _NG_USERS -= 1
            if _NG_USERS <= 0:
                _NG_USERS = 0
                neuroglancer.stop()

    def __enter__(self) -> ViewerSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"ViewerSession({self.url!r}, layers={list(self.layers)})"

    def _repr_html_(self) -> str:
        """An IFrame of the viewer in a notebook."""
        return f'<iframe src="{self.url}" width="100%" height="600px" style="border:0"></iframe>'


def gene_shader(all_genes: list[str], genes: list[str] | None) -> str:
    """Annotation shader: every gene coloured by its code, or only ``genes`` (each its palette colour).

    Parameters
    ----------
    all_genes
        The gene names in code order (the ``gene`` property's enum labels).
    genes
        Genes to show, or ``None`` for all.

    Returns
    -------
    str
        GLSL for neuroglancer's annotation layer.
    """
    if not all_genes:
        return "void main() { setColor(vec3(1.0, 1.0, 0.0)); }\n"
    if genes is None:
        return (
            "vec3 hue(float h) { return clamp(abs(mod(h * 6.0 + vec3(0.0, 4.0, 2.0), 6.0) - 3.0) - 1.0, 0.0, 1.0); }\n"
            "void main() {\n"
            "  setColor(hue(fract(float(prop_gene()) * 0.6180339887)));\n"
            "}\n"
        )
    lookup = {g: i for i, g in enumerate(all_genes)}
    unknown = [g for g in genes if g not in lookup]
    if unknown:
        from spatialdata_plugins.points_index import UnknownGeneError

        raise UnknownGeneError(f"gene(s) {unknown} are not among the {len(all_genes)} genes of the points")
    lines = ["void main() {", "  uint g = prop_gene();"]
    for k, gene in enumerate(genes):
        colour = GENE_PALETTE[k % len(GENE_PALETTE)]
        rgb = ", ".join(f"{int(colour[i : i + 2], 16) / 255:.4f}" for i in (1, 3, 5))
        lines.append(f"  {'if' if k == 0 else 'else if'} (g == {lookup[gene]}u) {{ setColor(vec3({rgb})); }}")
    lines.append("  else { discard; }" if genes else "  discard;")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _affine_xy(element: Any, coordinate_system: str) -> np.ndarray | None:
    """The element's transformation to ``coordinate_system`` as a 3x3 (x, y) matrix, ``None`` if it has none."""
    from spatialdata.transformations import get_transformation

    transformations = get_transformation(element, get_all=True)
    if coordinate_system not in transformations:
        return None
    t = transformations[coordinate_system]
    return np.asarray(t.to_affine_matrix(input_axes=("x", "y"), output_axes=("x", "y")), dtype=np.float64)


def _transform(neuroglancer: Any, m: np.ndarray, channels: int = 0) -> Any:
    """Neuroglancer source transform of an (x, y) affine, z kept, channels (``c^``) passed through."""
    names = ["x", "y", "z"] + (["c^"] if channels else [])
    rank = len(names)
    matrix = np.zeros((rank, rank + 1))
    matrix[:2, :2] = m[:2, :2]
    matrix[:2, rank] = m[:2, 2]
    matrix[2, 2] = 1.0
    if channels:
        matrix[3, 3] = 1.0
    units = ["m", "m", "m"] + ([""] if channels else [])
    scales = [UNIT_SCALE] * 3 + ([1.0] if channels else [])
    return neuroglancer.CoordinateSpaceTransform(
        output_dimensions=neuroglancer.CoordinateSpace(names=names, units=units, scales=scales),
        matrix=matrix.tolist(),
    )


def _open_points(sdata: Any, name: str, build_index: bool, progress: bool) -> Any:
    """The points element's index, built on request; ``None`` (with a warning) when there is none."""
    from spatialdata_plugins.points_index import IndexNotFoundError, build_points_index, open_points_index

    try:
        return open_points_index(sdata, name)
    except IndexNotFoundError:
        if not build_index:
            warnings.warn(
                f"points {name!r} have no points index, so they are not shown: build one with "
                "--build-index (view(..., build_index=True)) or 'spatialdata-plugins points-index build'",
                ViewerWarning,
                stacklevel=3,
            )
            return None
    if getattr(sdata, "location", None) is None:  # not stored: a standalone index in a temporary directory
        target = tempfile.mkdtemp(prefix=f"sdp-viewer-{name}-") + "/index.zarr"
        element = sdata.points[name]
        feature_key = element.attrs.get("spatialdata_attrs", {}).get("feature_key")
        build_points_index(element, target=target, feature_key=feature_key, progress=progress)
        return open_points_index(target)
    index = build_points_index(sdata, name, progress=progress)
    return index if index is not None else open_points_index(sdata, name)


def _read(data: Any, storage_options: dict[str, Any] | None) -> Any:
    from spatialdata import SpatialData as _SD

    if isinstance(data, _SD):
        return data
    from spatialdata_plugins.core import read

    return read(data, storage_options=storage_options)


def view(
    data: Any,
    *,
    coordinate_system: str = "global",
    points: str | list[str] | None = None,
    genes: list[str] | str | None = None,
    elements: list[str] | None = None,
    build_index: bool = False,
    progress: bool = True,
    host: str = "127.0.0.1",
    port: int = 0,
    data_port: int = 0,
    storage_options: dict[str, Any] | None = None,
) -> ViewerSession:
    """Open a SpatialData store (or object) in Neuroglancer.

    Images are served with their multiscale levels as stored, labels as segmentation layers, shapes as annotation
    layers (circles as ellipsoids, polygons as outlines) and points from their points index as an annotation
    layer whose spatial index is the points index itself: the browser fetches the coarse levels first and, as the
    user zooms, only the finer cells inside the view. Every element is placed by its transformation to
    ``coordinate_system``; elements without one are left out.

    Parameters
    ----------
    data
        A SpatialData, or what :func:`spatialdata_plugins.core.read` accepts (a path, an ``s3://`` URL, a zarr
        store, an icechunk session...).
    coordinate_system
        The coordinate system to show.
    points
        The points element(s) to show (default: every points element of the coordinate system).
    genes
        Show only these genes (each in its own colour; ``"A,B"`` or a list); default: every gene coloured by gene.
    elements
        Show only these elements (default: all).
    build_index
        Build the points index of points that have none (with a progress bar); without it such points are left out
        with a :class:`ViewerWarning`.
    progress
        Show the progress of an index build.
    host
        Address both servers listen on (the default only accepts connections from this machine).
    port, data_port
        Ports of neuroglancer's server and of the data server (0: any free port).
    storage_options
        fsspec options for URLs.

    Returns
    -------
    ViewerSession
        The running viewer; ``session.url`` is its link, ``session.stop()`` shuts it down.

    Examples
    --------
    >>> session = view("data.zarr", genes=["gene_001"])  # doctest: +SKIP
    >>> print(session.url)  # doctest: +SKIP
    >>> session.stop()  # doctest: +SKIP
    """
    global _NG_USERS
    import neuroglancer

    from spatialdata_plugins.viewer._points import PLANE_Z, PointsSource
    from spatialdata_plugins.viewer._raster import RasterSource
    from spatialdata_plugins.viewer._shapes import ShapesSource

    sdata = _read(data, storage_options)
    if isinstance(genes, str):
        genes = [g for g in genes.split(",") if g]
    if isinstance(points, str):
        points = [p for p in points.split(",") if p]
    if coordinate_system not in sdata.coordinate_systems:
        raise InvalidArgumentError(
            f"no coordinate system {coordinate_system!r}; the data have {list(sdata.coordinate_systems)}"
        )
    if points is not None:
        missing = [p for p in points if p not in sdata.points]
        if missing:
            raise InvalidArgumentError(f"no points element(s) {missing}; the data have {list(sdata.points)}")
    wanted = None if elements is None else set(elements)

    sources: dict[str, dict[str, Any]] = {"images": {}, "labels": {}, "shapes": {}, "points": {}}
    placed: list[tuple[str, str, np.ndarray]] = []
    for kind, group in (("images", sdata.images), ("labels", sdata.labels), ("shapes", sdata.shapes)):
        for name, element in group.items():
            m = _affine_xy(element, coordinate_system)
            if m is None or (wanted is not None and name not in wanted):
                continue
            if kind == "shapes":
                sources[kind][name] = ShapesSource(element, name)
            else:
                sources[kind][name] = RasterSource(element, name, segmentation=kind == "labels")
            placed.append((kind, name, m))
    for name, element in sdata.points.items():
        m = _affine_xy(element, coordinate_system)
        if m is None or (points is not None and name not in points) or (wanted is not None and name not in wanted):
            continue
        index = _open_points(sdata, name, build_index, progress)
        if index is None:
            continue
        try:
            sources["points"][name] = PointsSource(index, name)
        except NotImplementedError as exc:
            warnings.warn(f"points {name!r} are not shown: {exc}", ViewerWarning, stacklevel=2)
            continue
        if genes is not None:
            gene_shader(sources["points"][name].genes, genes)  # unknown genes raise before anything starts
        placed.append(("points", name, m))

    server = DataServer(sources, host=host, port=data_port)
    try:
        with _NG_LOCK:
            if not neuroglancer.server.is_server_running():
                neuroglancer.set_server_bind_address(host, port)
            viewer = neuroglancer.Viewer()
            _NG_USERS += 1
        session = ViewerSession(viewer=viewer, server=server, coordinate_system=coordinate_system)
        bounds = []
        with viewer.txn() as s:
            s.dimensions = neuroglancer.CoordinateSpace(names=["x", "y", "z"], units="m", scales=[UNIT_SCALE] * 3)
            for kind, name, m in placed:
                source = sources[kind][name]
                url = f"precomputed://{server.url}/{kind}/{quote(name, safe='')}"
                if kind in ("images", "labels"):
                    channels = source.n_channels if source.n_channels > 1 else 0
                    ds = neuroglancer.LayerDataSource(url=url, transform=_transform(neuroglancer, m, channels))
                    first = source.levels[0]
                    corners = np.array([[0, 0, 1], [first.sizes["x"], first.sizes["y"], 1]], dtype=np.float64)
                    if kind == "images":
                        lo, hi = source.value_range()
                        shader = (
                            f"#uicontrol invlerp normalized(range=[{lo:.6g}, {hi:.6g}])\n"
                            "void main() { emitGrayscale(normalized()); }\n"
                        )
                        s.layers[name] = neuroglancer.ImageLayer(source=ds, shader=shader)
                    else:
                        s.layers[name] = neuroglancer.SegmentationLayer(source=ds)
                else:
                    ds = neuroglancer.LayerDataSource(url=url, transform=_transform(neuroglancer, m))
                    info = source.info()
                    corners = np.array(
                        [[info["lower_bound"][0], info["lower_bound"][1], 1], [*info["upper_bound"][:2], 1]]
                    )
                    if kind == "points":
                        shader = gene_shader(source.genes, genes)
                    else:
                        shader = "void main() { setColor(vec3(0.2, 0.8, 1.0)); }\n"
                    s.layers[name] = neuroglancer.AnnotationLayer(source=ds, shader=shader)
                session.layers[name] = kind
                bounds.append((m @ corners.T).T[:, :2])
            if bounds:
                pts = np.vstack(bounds)
                lo, hi = pts.min(axis=0), pts.max(axis=0)
                s.position = [float((lo[0] + hi[0]) / 2), float((lo[1] + hi[1]) / 2), PLANE_Z]
                s.cross_section_scale = float(max(hi - lo) / 800) or 1.0
            s.layout = "xy"
        session.genes = list(genes or [])
        return session
    except BaseException:
        server.stop()
        raise
