"""The viewer in a real headless Chromium (WebGL2 through SwiftShader): screenshots and requests per view."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest

from spatialdata_plugins.viewer import annotation_chunk_bounds

DOCS_SHOT = Path(__file__).resolve().parents[3] / "docs" / "_static" / "viewer" / "viewer.png"
SIDE = 256  # screenshot side in pixels


@pytest.fixture(scope="module")
def session(store):
    from spatialdata_plugins.viewer import view

    session = view(store)
    with session.viewer.config_state.txn() as c:  # the canvas is exactly the screenshot: no UI, no borders
        c.show_ui_controls = False
        c.show_panel_borders = False
        c.viewer_size = [SIDE, SIDE]
    yield session
    session.stop()


@contextlib.contextmanager
def _browser(session):
    """A fresh headless Chromium on the viewer (a new client: it has fetched nothing yet)."""
    if shutil.which("chromium") is None or shutil.which("chromedriver") is None:
        pytest.skip(
            "browser tests need Debian's chromium and chromium-driver: apt-get install chromium chromium-driver"
        )
    os.environ.setdefault("SE_OFFLINE", "true")  # selenium must not look for a driver on the (closed) network
    from neuroglancer.webdriver import Webdriver

    from spatialdata_plugins.viewer import CHROMIUM_FLAGS

    flags = [f for f in CHROMIUM_FLAGS if f != "--headless=new"] + [f"--user-data-dir={tempfile.mkdtemp()}"]
    driver = Webdriver(
        session.viewer,
        headless=True,
        browser_binary_path=shutil.which("chromium"),
        extra_command_line_args=flags,
        window_size=(SIDE + 64, SIDE + 64),
        print_logs=False,
    )
    try:
        driver.sync()
        yield driver
    finally:
        driver.__exit__(None, None, None)


def _show(session, visible: set[str], position=(64.0, 64.0), scale=128 / SIDE):
    with session.viewer.txn() as s:
        for layer in s.layers:
            layer.visible = layer.name in visible
        s.position = [position[0], position[1], 0.5]
        s.cross_section_scale = scale
        s.show_axis_lines = False
        s.show_scale_bar = False


def _shot(session) -> np.ndarray:
    shot = session.viewer.screenshot().screenshot
    img = np.asarray(shot.image_pixels)[..., :3].astype(int)
    assert img.shape[:2] == (SIDE, SIDE), img.shape
    return img


def _coloured(img: np.ndarray) -> np.ndarray:
    """Pixels clearly not grey (points are drawn in saturated colours)."""
    return (img.max(axis=2) - img.min(axis=2)) > 80


def test_layers_and_points_drawn_where_the_data_are(session):
    with _browser(session):
        _show(session, {"image"})
        img = _shot(session)
        # screen pixel (col, row) shows global (x, y) = (col / 2, row / 2): left half of the image 0, right half 200
        assert img[100, 40].mean() < 30 and img[100, 216].mean() > 170, (img[100, 40], img[100, 216])
        _show(session, {"cells"})
        img = _shot(session)
        inside, outside = img[40, 190], img[120, 120]  # label 7 covers x 80..110, y 10..30
        assert np.abs(inside - outside).sum() > 30
        _show(session, {"image", "cells", "circles", "regions", "transcripts"})
        img = _shot(session)
        from PIL import Image

        DOCS_SHOT.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(img.astype(np.uint8)).save(DOCS_SHOT)

        _show(session, {"transcripts"})
        quadrants = {}
        h = SIDE // 2
        for genes in (["A"], ["B"], None):
            session.set_genes(genes)
            mask = _coloured(_shot(session))
            quadrants[str(genes)] = (int(mask[:h, :h].sum()), int(mask[h:, h:].sum()))
        session.set_genes(None)
    a_tl, a_br = quadrants["['A']"]
    b_tl, b_br = quadrants["['B']"]
    all_tl, all_br = quadrants["None"]
    assert a_tl > 500 and a_br < a_tl / 20  # gene A lies in the top-left quadrant only
    assert b_br > 500 and b_tl < b_br / 20
    assert all_tl > 500 and all_br > 500


def test_annotation_chunks_requested_per_view(session):
    info = session.server.sources["points"]["transcripts"].info()
    views = {"wide": ((64.0, 64.0), 128 / SIDE), "narrow": ((32.0, 32.0), 16 / SIDE)}
    served = {}
    for name, (position, scale) in views.items():
        _show(session, {"transcripts"}, position=position, scale=scale)
        session.log.clear()
        with _browser(session):
            _shot(session)
        served[name] = session.log.annotation_chunks("transcripts")
    levels = {k: sorted({annotation_chunk_bounds(info, r.part)[0] for r in v}) for k, v in served.items()}
    for k, v in served.items():
        print(k, len(v), sum(r.nbytes for r in v), levels[k])
    # zoomed in: the finest levels appear, and every chunk fetched overlaps the 16 x 16 view
    assert max(levels["narrow"]) > max(levels["wide"])
    for r in served["narrow"]:
        _, lo, hi = annotation_chunk_bounds(info, r.part)
        assert lo[0] < 40 and hi[0] > 24 and lo[1] < 40 and hi[1] > 24, r.part
    # zoomed out: whole coarse levels only (at most their bytes), well under all the points' bytes
    index = session.server.sources["points"]["transcripts"].index
    rows = index.level_rows()
    assert levels["wide"] == list(range(max(levels["wide"]) + 1))
    wide_bytes = sum(r.nbytes for r in served["wide"])
    assert wide_bytes <= sum(24 * rows[lv] + 8 * 4**lv for lv in levels["wide"])
    assert wide_bytes < 24 * index.n_rows / 2
