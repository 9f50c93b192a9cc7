"""Sphinx configuration of the spatialdata-plugins documentation.

Build (warnings are errors)::

    uv run --frozen --inexact --all-packages --group docs sphinx-build -W --keep-going -b html docs docs/_build/html
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from sphinx.util import logging

DOCS = Path(__file__).parent
ROOT = DOCS.parent
CORE = ROOT / "packages" / "core" / "src" / "spatialdata_plugins" / "core"

# -- project --------------------------------------------------------------------------------------------------

project = "spatialdata-plugins"
author = "the spatialdata-plugins contributors"
copyright = "the spatialdata-plugins contributors"

try:
    from spatialdata_plugins.core import __version__ as release
except ImportError:  # building without the workspace installed: the API page will then fail loudly anyway
    release = "unknown"
version = release

# -- general --------------------------------------------------------------------------------------------------

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
]

source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "_static/benchmarks"]  # included by the pages, not pages
templates_path: list[str] = []

# No intersphinx: it downloads inventories at build time, and a build that needs the network (and fails under -W
# when it is down) is worse than plain-text names of spatialdata/zarr/click objects in signatures.
nitpicky = False

# -- MyST -----------------------------------------------------------------------------------------------------

myst_enable_extensions = ["colon_fence", "deflist"]
# "## `sdp_open_store`" gets the anchor "sdp_open_store", so pages can link to hooks.md#sdp_open_store.
myst_heading_anchors = 3

# -- autodoc / autosummary / napoleon -------------------------------------------------------------------------

autosummary_generate = False  # api.md documents every object itself; the autosummary tables only link to it
autodoc_member_order = "bysource"
autodoc_default_options = {"show-inheritance": True}
# Signatures keep their annotations as written; many name types that exist only under TYPE_CHECKING
# (zarr.Group, click.Group, Location), so resolving them into the descriptions would only produce broken links.
autodoc_typehints = "signature"
autodoc_typehints_format = "short"

napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False
# Render "Attributes" sections as a field list: as ".. attribute::" directives they would be documented twice for
# dataclasses whose fields autodoc also sees.
napoleon_use_ivar = True

# -- HTML -----------------------------------------------------------------------------------------------------

html_theme = "sphinx_book_theme"
html_title = "spatialdata-plugins"
html_theme_options = {
    "show_toc_level": 2,
    "navigation_with_keys": False,
}
html_static_path: list[str] = []


# -- consistency checks (reported as warnings, so -W turns them into build errors) ---------------------------


def _hook_names() -> list[str]:
    tree = ast.parse((CORE / "hookspecs.py").read_text())
    return [n.name for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("sdp_")]


def _public_names() -> list[str]:
    """The core's public names: those its ``__init__.pyi`` stub imports (what lazy_loader exports)."""
    tree = ast.parse((CORE / "__init__.pyi").read_text())
    imports = [node for node in tree.body if isinstance(node, ast.ImportFrom)]
    return [alias.asname or alias.name for node in imports for alias in node.names]


def _check_docs_cover_code(app: object) -> None:
    """Every hook has a "## `sdp_...`" section in hooks.md and every public name appears in api.md."""
    logger = logging.getLogger(__name__)
    hooks_md = (DOCS / "hooks.md").read_text()
    headings = set(re.findall(r"^## `(sdp_\w+)`\s*$", hooks_md, flags=re.MULTILINE))
    for name in _hook_names():
        if name not in headings:
            logger.warning("hooks.md has no section '## `%s`' for the hook of that name in hookspecs.py", name)
    api_md = (DOCS / "api.md").read_text()
    for name in _public_names():
        documented = rf"(auto\w+:: spatialdata_plugins\.core\.{re.escape(name)}|py:\w+:: {re.escape(name)})\s*$"
        if not re.search(documented, api_md, flags=re.MULTILINE):
            logger.warning("api.md does not document spatialdata_plugins.core.%s (listed in __all__)", name)


def setup(app: object) -> dict[str, bool]:
    app.connect("builder-inited", _check_docs_cover_code)  # type: ignore[attr-defined]
    return {"parallel_read_safe": True}
