"""The registry: defaults first, entry points one by one, broken plugins isolated, disabling by name."""

from __future__ import annotations

import warnings
from importlib.metadata import EntryPoint

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


# --- the registry, hardened: duplicate names, answer order, tracing ---------------------------------------------------


@pytest.fixture
def answering():
    from plugins_for_tests import answering

    answering.asked.clear()
    yield answering
    answering.asked.clear()


def _entry_points(tmp_path, dist_name, specs):
    """Real EntryPoint objects of a real (uninstalled) distribution: ``specs`` is ``[(name, value), ...]``."""
    from importlib.metadata import PathDistribution

    info = tmp_path / f"{dist_name.replace('-', '_')}-1.2.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist_name}\nVersion: 1.2.3\n")
    lines = "\n".join(f"{name} = {value}" for name, value in specs)
    (info / "entry_points.txt").write_text(f"[spatialdata_plugins]\n{lines}\n")
    eps = list(PathDistribution(info).entry_points)
    assert all(ep.dist is not None for ep in eps)
    return eps


def _describe(registry):
    return registry.hook.sdp_describe_attached(name="x", obj=object())


@pytest.mark.parametrize("first_dist", ["dist-one", "dist-two"])
def test_duplicate_name_first_stays_loaded_second_refused(tmp_path, answering, first_dist):
    second_dist = "dist-two" if first_dist == "dist-one" else "dist-one"
    first = _entry_points(tmp_path, first_dist, [("same", "plugins_for_tests.answering:alpha")])
    # the second would fail to import: being refused, it is never imported
    second = _entry_points(tmp_path, second_dist, [("same", "plugins_for_tests.broken_import")])
    with pytest.warns(PluginLoadWarning) as record:
        registry = Registry(entry_points_override=first + second)
    assert len(record) == 1
    message = str(record[0].message)
    assert "'same'" in message and first_dist in message and second_dist in message

    reports = [i for i in registry.list_plugins() if i.name == "same"]
    assert [(i.distribution, i.loaded) for i in reports] == [(first_dist, True), (second_dist, False)]
    kept, refused = reports
    assert kept.error is None and kept.hooks == ["sdp_describe_attached"] and kept.order == 0
    assert first_dist in refused.error and second_dist in refused.error and "import" not in refused.error
    assert refused.order is None and not refused.disabled
    assert registry.pm.get_plugin("same") is answering.alpha
    assert _describe(registry) == "alpha"


def test_duplicates_of_a_disabled_name_are_both_disabled(monkeypatch, tmp_path, answering):
    monkeypatch.setenv("SPATIALDATA_PLUGINS_DISABLE", "same")
    eps = _entry_points(tmp_path, "dist-one", [("same", "plugins_for_tests.answering:alpha")])
    eps += _entry_points(tmp_path, "dist-two", [("same", "plugins_for_tests.answering:beta")])
    with warnings.catch_warnings():
        warnings.simplefilter("error", PluginLoadWarning)
        registry = Registry(entry_points_override=eps)
    reports = [i for i in registry.list_plugins() if i.name == "same"]
    assert [(i.distribution, i.disabled, i.loaded) for i in reports] == [
        ("dist-one", True, False),
        ("dist-two", True, False),
    ]
    assert registry.order == [DEFAULTS_NAME]


def test_duplicate_is_listed_by_the_cli(tmp_path, answering):
    from click.testing import CliRunner

    from spatialdata_plugins.core._cli import cli
    from spatialdata_plugins.core._registry import set_registry

    eps = _entry_points(tmp_path, "dist-one", [("same", "plugins_for_tests.answering:alpha")])
    eps += _entry_points(tmp_path, "dist-two", [("same", "plugins_for_tests.answering:beta")])
    with pytest.warns(PluginLoadWarning):
        registry = Registry(entry_points_override=eps)
    previous = set_registry(registry)
    try:
        result = CliRunner().invoke(cli, ["plugins", "--json"])
    finally:
        set_registry(previous)
    assert result.exit_code == 0, result.output
    import json

    same = [p for p in json.loads(result.output) if p["name"] == "same"]
    assert [(p["distribution"], p["loaded"], p["order"]) for p in same] == [
        ("dist-one", True, 0),
        ("dist-two", False, None),
    ]
    assert "dist-one" in same[1]["error"]


def test_runtime_registration_under_a_taken_name_is_refused(sdp_registry, sdp_register, answering):
    assert sdp_register(answering.alpha, name="same").loaded
    with pytest.warns(PluginLoadWarning, match="'same'"):
        info = sdp_register(answering.beta, name="same")
    assert not info.loaded and "taken" in info.error
    assert [i.loaded for i in sdp_registry.list_plugins() if i.name == "same"] == [True, False]
    assert _describe(sdp_registry) == "alpha"


def test_entry_point_named_like_the_defaults_is_refused(sdp_fake_entry_points, answering):
    with pytest.warns(PluginLoadWarning, match=DEFAULTS_NAME):
        registry = sdp_fake_entry_points([(DEFAULTS_NAME, "plugins_for_tests.answering:alpha")])
    assert registry.order == [DEFAULTS_NAME]
    assert _describe(registry) == "[attached] object"


ABC = [
    ("gamma", "plugins_for_tests.answering:gamma"),
    ("alpha", "plugins_for_tests.answering:alpha"),
    ("beta", "plugins_for_tests.answering:beta"),
]


def test_default_answer_order_is_by_name(sdp_fake_entry_points, answering):
    registry = sdp_fake_entry_points(ABC)  # discovered out of order
    assert registry.order == ["alpha", "beta", "gamma", DEFAULTS_NAME]
    assert _describe(registry) == "alpha"
    assert answering.asked == ["alpha"]
    listed = registry.list_plugins()
    assert [(i.name, i.order) for i in listed] == [(DEFAULTS_NAME, 3), ("alpha", 0), ("beta", 1), ("gamma", 2)]
    registry.unregister("alpha")
    answering.asked.clear()
    assert _describe(registry) == "beta" and answering.asked == ["beta"]


@pytest.mark.parametrize(
    ("order", "expected"),
    [
        ("gamma", ["gamma", "alpha", "beta"]),
        ("beta, gamma", ["beta", "gamma", "alpha"]),
        ("not-installed,gamma,core-defaults,gamma", ["gamma", "alpha", "beta"]),
        ("", ["alpha", "beta", "gamma"]),
    ],
)
def test_order_from_the_environment(monkeypatch, sdp_fake_entry_points, answering, order, expected):
    monkeypatch.setenv("SPATIALDATA_PLUGINS_ORDER", order)
    registry = sdp_fake_entry_points(ABC)
    assert registry.order == [*expected, DEFAULTS_NAME]  # the defaults always last
    assert _describe(registry) == expected[0]
    assert [i.order for i in registry.list_plugins()] == [3, 0, 1, 2]


def test_order_argument_overrides_the_environment(monkeypatch, answering):
    monkeypatch.setenv("SPATIALDATA_PLUGINS_ORDER", "alpha")
    eps = [EntryPoint(name=n, value=v, group="spatialdata_plugins") for n, v in ABC]
    assert Registry(entry_points_override=eps, order=["gamma", "beta"]).order[:3] == ["gamma", "beta", "alpha"]
    assert Registry(entry_points_override=eps, order="beta").order[:3] == ["beta", "alpha", "gamma"]


def test_declining_plugins_are_asked_in_order(sdp_fake_entry_points, answering):
    from plugins_for_tests.answering import Answering

    registry = sdp_fake_entry_points([("declining", "plugins_for_tests.answering:declining"), *ABC])
    registry.unregister("alpha")
    registry.unregister("beta")
    answering.asked.clear()
    assert _describe(registry) == "gamma"
    assert answering.asked == ["declining", "gamma"]
    # objects registered at run time answer before every entry point
    registry.register(Answering("late"), name="late")
    assert registry.order[0] == "late" and _describe(registry) == "late"


@pytest.fixture
def trace_logging(caplog):
    from spatialdata_plugins.core._registry import _StderrHandler, trace_logger

    caplog.set_level("DEBUG", logger="spatialdata_plugins.trace")
    yield caplog
    for handler in [h for h in trace_logger.handlers if isinstance(h, _StderrHandler)]:
        trace_logger.removeHandler(handler)
    trace_logger.setLevel("NOTSET")


def _trace(caplog):
    return [r.getMessage() for r in caplog.records if r.name == "spatialdata_plugins.trace"]


def test_trace_logs_which_plugin_answered(monkeypatch, trace_logging, answering, capsys):
    monkeypatch.setenv("SPATIALDATA_PLUGINS_TRACE", "1")
    eps = [EntryPoint(name=n, value=f"plugins_for_tests.answering:{n}", group="spatialdata_plugins") for n in ("beta",)]
    eps.append(EntryPoint(name="declining", value="plugins_for_tests.answering:declining", group="spatialdata_plugins"))
    registry = Registry(entry_points_override=eps, order="declining")
    trace_logging.clear()
    assert registry.hook.sdp_describe_attached(name="labels", obj=object()) == "beta"
    line = "sdp_describe_attached(name='labels'): answered by 'beta' (str); asked 'declining', 'beta'"
    assert _trace(trace_logging) == [line]
    assert f"spatialdata-plugins trace: {line}" in capsys.readouterr().err

    registry.unregister("beta")
    trace_logging.clear()
    registry.hook.sdp_after_write(sdata=None, location=None, root=None, options={}, update=None)
    registry.hook.sdp_describe_attached(name="x", obj=object())
    assert _trace(trace_logging) == [
        "sdp_after_write(): called no plugin",
        "sdp_describe_attached(name='x'): answered by 'core-defaults' (str); asked 'declining', 'core-defaults'",
    ]


def test_trace_names_the_plugin_that_raised_and_nests_calls(trace_logging, answering):
    traced = Registry(load_entry_points=False, trace=True)

    class CallsAnotherHook:
        @hookimpl
        def sdp_access_element(self, sdata, name, obj):
            traced.hook.sdp_describe_attached(name=name, obj=obj)
            return None

    traced.register(CallsAnotherHook(), name="nesting")
    traced.register(answering.raising, name="raising")
    trace_logging.clear()
    with pytest.raises(ValueError, match="cannot describe"):
        traced.hook.sdp_access_element(sdata=None, name="pts", obj=object())
    assert _trace(trace_logging) == [
        "  sdp_describe_attached(name='pts'): raised ValueError in 'raising'; asked 'raising'",
        "sdp_access_element(name='pts'): raised ValueError in 'nesting'; asked 'nesting'",
    ]


def test_no_trace_unless_asked(monkeypatch, trace_logging, answering):
    monkeypatch.delenv("SPATIALDATA_PLUGINS_TRACE", raising=False)
    registry = Registry(
        entry_points_override=[
            EntryPoint(name="a", value="plugins_for_tests.answering:alpha", group="spatialdata_plugins")
        ]
    )
    assert _describe(registry) == "alpha"
    assert _trace(trace_logging) == []
    impl = registry.pm.hook.sdp_describe_attached.get_hookimpls()[-1]
    assert impl.function == answering.alpha.sdp_describe_attached  # the implementation is not wrapped


def test_typed_hook_relay_lists_every_hook(sdp_registry):
    """``registry.hook`` is typed by HookRelay; it must name every hook of hookspecs, with the same signature."""
    import inspect

    from spatialdata_plugins.core import hookspecs
    from spatialdata_plugins.core._registry import HookRelay

    specs = {name for name in dir(hookspecs) if name.startswith("sdp_")}
    assert {name for name in vars(HookRelay) if name.startswith("sdp_")} == specs
    for name in specs:
        assert inspect.signature(getattr(HookRelay, name)) == inspect.signature(getattr(hookspecs, name))
        assert getattr(sdp_registry.hook, name) is getattr(sdp_registry.pm.hook, name)
