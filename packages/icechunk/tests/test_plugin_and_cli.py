"""The hooks (icechunk sessions as core read/write targets, the parallel backend), the CLI and the demo step."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from spatialdata.testing import assert_spatial_data_objects_are_identical

import spatialdata_plugins.icechunk as sdi
from spatialdata_plugins.core import InvalidArgumentError, get_registry, read, write


@pytest.fixture
def cli():
    from spatialdata_plugins.core import build_cli

    return build_cli()


def test_plugin_is_registered():
    from spatialdata_plugins.core import list_plugins

    assert "icechunk" in [p.name for p in list_plugins() if p.loaded]


def test_core_reads_and_writes_icechunk_sessions(repo, small_sdata):
    session = repo.writable_session("main")
    write(small_sdata, session, overwrite=True, progress=False)  # consolidated metadata is skipped on icechunk
    snapshot = session.commit("written by the core")
    assert_spatial_data_objects_are_identical(small_sdata, read(repo.readonly_session(snapshot_id=snapshot)))
    assert_spatial_data_objects_are_identical(small_sdata, read(repo))  # a repository reads the tip of main
    with pytest.raises(InvalidArgumentError, match="needs a commit"):
        write(small_sdata, repo, overwrite=True)
    with pytest.raises(sdi.ReadOnlySessionError):
        write(small_sdata, repo.readonly_session(branch="main"), overwrite=True)


def test_parallel_backend_hook(repo):
    from spatialdata_plugins.core import open_location

    backend = get_registry().hook.sdp_parallel_write_backend(location=open_location(repo.writable_session("main")))
    assert isinstance(backend, sdi.IcechunkForkBackend) and backend.name == "icechunk-fork"
    readonly = get_registry().hook.sdp_parallel_write_backend(location=open_location(repo))
    assert not isinstance(readonly, sdi.IcechunkForkBackend)


def test_cli_log_branch_tag_diff(cli, filled_repo, repo_path):
    runner = CliRunner()
    first = filled_repo.lookup_branch("main")
    sdata = sdi.read(filled_repo)
    with sdi.transaction(sdata, filled_repo, message="drop regions", progress=False):
        del sdata["regions"]
    result = runner.invoke(cli, ["icechunk", "log", repo_path])
    assert result.exit_code == 0, result.output
    assert "drop regions" in result.output and "-regions" in result.output
    as_json = json.loads(runner.invoke(cli, ["icechunk", "log", repo_path, "--json", "-n", "1"]).output)
    assert as_json[0]["deleted"] == ["regions"]
    result = runner.invoke(cli, ["icechunk", "tag", repo_path, "v1", "--from", first])
    assert result.exit_code == 0 and f"created tag v1 at {first}" in result.output
    assert runner.invoke(cli, ["icechunk", "branch", repo_path, "side", "--from", "v1"]).exit_code == 0
    listing = runner.invoke(cli, ["icechunk", "branch", repo_path]).output
    assert "main" in listing and f"side  {first}" in listing
    assert f"v1  {first}" in runner.invoke(cli, ["icechunk", "tag", repo_path]).output
    diff = runner.invoke(cli, ["icechunk", "diff", repo_path, "v1", "main"])
    assert diff.exit_code == 0 and "deleted  regions (shapes)" in diff.output
    assert json.loads(runner.invoke(cli, ["icechunk", "diff", repo_path, "v1", "--json"]).output)["deleted"] == [
        "regions"
    ]


def test_cli_errors_are_clear(cli, tmp_path, filled_repo, repo_path):
    runner = CliRunner()
    result = runner.invoke(cli, ["icechunk", "log", str(tmp_path / "nothing")])
    assert result.exit_code != 0 and "no icechunk repository" in result.output
    result = runner.invoke(cli, ["icechunk", "diff", repo_path, "main", "nope"])
    assert result.exit_code != 0 and "'nope' is no branch" in result.output
    result = runner.invoke(cli, ["icechunk", "tag", repo_path, "v1", "--from", "nope"])
    assert result.exit_code != 0 and sdi.list_tags(filled_repo) == {}


def test_demo_step(tmp_path, small_sdata, capfd, monkeypatch):
    lines: list[str] = []
    from spatialdata_plugins.icechunk._plugin import sdp_demo

    monkeypatch.delenv("ICECHUNK_LOG", raising=False)
    sdp_demo(sdata=small_sdata, workdir=str(tmp_path), echo=lines.append)  # only our step, not other plugins'

    text = "\n".join(lines)
    assert "icechunk: wrote the demo data" in text and "committed nothing" in text
    assert "deleted ['regions']" in text
    # icechunk's warnings about the local storage (one writer here) are not shown by the demo
    assert "WARN" not in capfd.readouterr().err
