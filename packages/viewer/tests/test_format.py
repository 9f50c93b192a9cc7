"""Served chunks decoded with an independent reader of the precomputed annotation format."""

from __future__ import annotations

import json

import numpy as np
import pytest
from ng_reader import Layout, read_directory
from viewer_helpers import make_points

from spatialdata_plugins.points_index import open_points_index
from spatialdata_plugins.viewer import PointsSource, RasterSource, ShapesSource, annotation_chunk_bounds


@pytest.fixture(scope="module")
def source(store):
    return PointsSource(open_points_index(store, "transcripts"), "transcripts")


def _all_served(source):
    info = json.loads(json.dumps(source.info()))  # as the browser gets it
    layout = Layout(info)
    out = []
    for lv, level in enumerate(info["spatial"]):
        gx, gy, gz = level["grid_shape"]
        assert gz == 1
        for i in range(gx):
            for j in range(gy):
                for ann_id, geom, props in layout.decode_many(source.chunk(lv, i, j)):
                    out.append((lv, i, j, ann_id, geom, props))
    return info, out


def test_every_point_is_served_once_in_its_cell(source):
    info, served = _all_served(source)
    df = make_points()
    assert len(served) == len(df)
    assert len({s[3] for s in served}) == len(df)  # ids unique
    genes = info["properties"][0]["enum_labels"]
    got = sorted((g[0], g[1], genes[p["gene"]]) for *_, g, p in served)  # float32 both sides: exact
    want = sorted(zip(df.x.tolist(), df.y.tolist(), df.gene.astype(str), strict=True))
    assert got == want
    lower = np.asarray(info["lower_bound"])
    for lv, i, j, _, geom, _ in served:
        size = np.asarray(info["spatial"][lv]["chunk_size"])
        cell = np.floor((np.asarray(geom[:2]) - lower[:2]) / size[:2]).astype(int)
        assert tuple(cell) == (i, j)
        assert geom[2] == 0.5


def test_info_levels_follow_the_spec(source):
    info = source.info()
    lower, upper = np.asarray(info["lower_bound"]), np.asarray(info["upper_bound"])
    for k, level in enumerate(info["spatial"]):
        assert level["key"] == f"spatial{k}"
        np.testing.assert_allclose(np.asarray(level["grid_shape"]) * level["chunk_size"], upper - lower)
        if k:
            prev = np.asarray(info["spatial"][k - 1]["chunk_size"])
            ratio = prev / np.asarray(level["chunk_size"])
            np.testing.assert_allclose(ratio, np.round(ratio))
        assert level["limit"] >= 1
    assert len(info["spatial"]) == source.index.n_levels > 2
    assert info["by_id"] == {"key": "by_id"}


def test_by_id_matches_the_chunks(source):
    info, served = _all_served(source)
    layout = Layout(info)
    for *_, ann_id, geom, props in served[::97]:
        g, p = layout.decode_one(source.by_id(ann_id))
        assert g == geom and p == props
    assert source.by_id(10**9) is None


def test_neuroglancer_writer_output_decodes_to_the_same_set(source, tmp_path):
    import neuroglancer
    from neuroglancer import write_annotations

    info, served = _all_served(source)
    genes = info["properties"][0]["enum_labels"]
    space = neuroglancer.CoordinateSpace(names=["x", "y", "z"], units="m", scales=[1e-6] * 3)
    writer = write_annotations.AnnotationWriter(
        coordinate_space=space,
        annotation_type="point",
        properties=[
            neuroglancer.AnnotationPropertySpec(
                id="gene", type="uint16", enum_values=list(range(len(genes))), enum_labels=genes
            )
        ],
    )
    df = make_points()
    codes = {g: k for k, g in enumerate(genes)}
    for x, y, gene in zip(df.x, df.y, df.gene.astype(str), strict=True):
        writer.add_point([float(x), float(y), 0.5], gene=codes[gene])
    writer.write(tmp_path / "ng")
    ng_info, theirs = read_directory(tmp_path / "ng")
    assert Layout(ng_info).size == Layout(info).size  # the same record layout for the same properties
    ours = sorted((g, p["gene"]) for *_, g, p in served)
    assert sorted((g, p["gene"]) for _, g, p in theirs) == ours


def test_a_chunk_reads_only_its_cell(store):
    from zarr.storage import LocalStore

    from spatialdata_plugins.core.testing import CountingStore
    from spatialdata_plugins.points_index import PointsIndex

    counting = CountingStore(LocalStore(store, read_only=True))
    index = PointsIndex.from_path(counting, "points/transcripts")
    src = PointsSource(index, "transcripts")
    counting.bytes_read = 0
    level = index.n_levels - 1
    cell = next((i, j) for i in range(1 << level) for j in range(1 << level) if src.cell_rows(level, i, j)[1])
    start, stop = src.cell_rows(level, *cell)
    counting.bytes_read = 0
    src.chunk(level, *cell)
    # x and y (float32) and the gene code of the cell's rows, plus nothing but a directory record (cached here)
    assert counting.bytes_read <= (stop - start) * 9


def test_shapes_and_raster(store_sdata):
    circles = ShapesSource(store_sdata.shapes["circles"], "circles")
    info = circles.info()
    assert info["annotation_type"] == "ELLIPSOID"
    decoded = Layout(info).decode_many(circles.chunk(0, 0, 0))
    centres = sorted((round(g[0]), round(g[1]), round(g[3]), p["shape"]) for _, g, p in decoded)
    assert centres == [(30, 100, 9, 1), (100, 30, 6, 0)]
    regions = ShapesSource(store_sdata.shapes["regions"], "regions")
    assert regions.info()["annotation_type"] == "LINE"
    edges = Layout(regions.info()).decode_many(regions.chunk(0, 0, 0))
    assert len(edges) == 4
    image = RasterSource(store_sdata.images["image"], "image")
    vinfo = image.info()
    assert [s["size"] for s in vinfo["scales"]] == [[128, 128, 1], [64, 64, 1]]
    assert vinfo["scales"][1]["resolution"][0] == 2 * vinfo["scales"][0]["resolution"][0]
    raw = np.frombuffer(image.chunk("s0", [(60, 68), (0, 2), (0, 1)]), dtype=np.uint8).reshape(1, 1, 2, 8)
    assert raw[0, 0, 0].tolist() == [0, 0, 0, 0, 200, 200, 200, 200]
    labels = RasterSource(store_sdata.labels["cells"], "cells", segmentation=True)
    assert labels.info()["data_type"] == "uint32"
    lab = np.frombuffer(labels.chunk("s0", [(80, 82), (10, 11), (0, 1)]), dtype="<u4")
    assert lab.tolist() == [7, 7]


def test_annotation_chunk_bounds_from_the_info():
    info = {
        "lower_bound": [10.0, 20.0, 0.0],
        "spatial": [
            {"key": "spatial0", "grid_shape": [1, 1, 1], "chunk_size": [100.0, 100.0, 1.0]},
            {"key": "spatial1", "grid_shape": [2, 2, 1], "chunk_size": [50.0, 50.0, 1.0]},
        ],
    }
    level, lo, hi = annotation_chunk_bounds(info, "spatial1/1_0_0")
    assert level == 1 and lo.tolist() == [60.0, 20.0] and hi.tolist() == [110.0, 70.0]
    level, lo, hi = annotation_chunk_bounds(info, "spatial0/0_0_0")
    assert level == 0 and lo.tolist() == [10.0, 20.0] and hi.tolist() == [110.0, 120.0]
    with pytest.raises(ValueError, match="names no spatial level"):
        annotation_chunk_bounds(info, "spatial2/0_0_0")
    with pytest.raises(ValueError, match="<i>_<j>_<k>"):
        annotation_chunk_bounds(info, "spatial1/by_id")
