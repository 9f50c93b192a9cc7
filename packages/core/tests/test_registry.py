"""The registry: defaults first, entry points one by one, broken plugins isolated, disabling by name."""

from __future__ import annotations

import warnings

import pytest

from spatialdata_plugins.core import PluginLoadWarning, get_registry, hookimpl, read, write
from spatialdata_plugins.core._registry import DEFAULTS_NAME, Registry, list_plugins

GOOD = ("good", "plugins_for_tests.good")
BROKEN = ("broken", "plugins_for_tests.broken_import")
UNKNOWN = ("unknown-hook", "plugins_for_tests.unknown_hook")


def test_defaults_registered_first(sdp_registry):
    infos = sdp_registry.list_plugins()
    assert infos[0].name == DEFAULTS_NAME and infos[0].loaded
    assert "sdp_open_store" in infos[0].hooks and "sdp_write_element" in infos[0].hooks
    assert infos[0].distribution == "spatialdata-plugins-core"


def test_broken_plugin_reported_and_others_work(sdp_fake_entry_points, tmp_path, synthetic_sdata):
    with pytest.warns(PluginLoadWarning) as record:
        registry = sdp_fake_entry_points([BROKEN, GOOD, UNKNOWN])
    messages = " ".join(str(r.message) for r in record)
    assert "broken" in messages and "a_dependency_that_is_not_installed" in messages
    assert "unknown-hook" in messages and "sdp_no_such_hook" in messages
    infos = {i.name: i for i in registry.list_plugins()}
    assert not infos["broken"].loaded and "import failed" in infos["broken"].error
    assert not infos["unknown-hook"].loaded and "sdp_no_such_hook" in infos["unknown-hook"].error
    assert infos["good"].loaded and "sdp_register_commands" in infos["good"].hooks
    assert registry.pm.get_plugin("unknown-hook") is None
    # the core keeps working
    write(synthetic_sdata, tmp_path / "x.zarr")
    assert "transcripts" in read(tmp_path / "x.zarr").points


def test_hook_with_wrong_arguments_fails_to_load(sdp_registry):
    class WrongArgs:
        @hookimpl
        def sdp_open_store(self, target, mode, storage_options, not_a_hook_argument):
            return None

    with pytest.warns(PluginLoadWarning, match="wrong-args"):
        info = sdp_registry.register(WrongArgs(), name="wrong-args")
    assert not info.loaded and info.error


@pytest.mark.parametrize("disable", ["good", "good,broken", "*"])
def test_disable_by_name(monkeypatch, sdp_fake_entry_points, disable):
    monkeypatch.setenv("SPATIALDATA_PLUGINS_DISABLE", disable)
    with warnings.catch_warnings():
        # disabled plugins are skipped before import, so even the broken one warns about nothing
        warnings.simplefilter("error", PluginLoadWarning)
        registry = sdp_fake_entry_points([GOOD, BROKEN] if disable != "good" else [GOOD])
    infos = {i.name: i for i in registry.list_plugins()}
    assert infos["good"].disabled and not infos["good"].loaded
    assert registry.pm.get_plugin("good") is None
    assert infos[DEFAULTS_NAME].loaded  # the defaults are never disabled
    if disable != "good":
        assert infos["broken"].disabled, "a disabled plugin is not even imported"


def test_registry_is_process_wide_and_refreshable(monkeypatch):
    first = get_registry()
    assert get_registry() is first
    refreshed = get_registry(refresh=True)
    assert refreshed is not first
    assert next(i.name for i in list_plugins()) == DEFAULTS_NAME


def test_register_fixture_unregisters(sdp_registry, sdp_register):
    class Plugin:
        @hookimpl
        def sdp_describe_attached(self, name, obj):
            return "custom"

    info = sdp_register(Plugin(), name="custom")
    assert info.loaded
    assert sdp_registry.hook.sdp_describe_attached(name="x", obj=object()) == "custom"


def test_installed_entry_points_are_discovered():
    """Real discovery: the installed distributions' entry points of group spatialdata_plugins are all listed."""
    from importlib.metadata import entry_points

    registry = Registry()
    names = {i.name for i in registry.list_plugins()}
    assert {ep.name for ep in entry_points(group="spatialdata_plugins")} <= names
