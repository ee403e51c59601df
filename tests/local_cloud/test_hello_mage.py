"""Seeding `hello_mage` into a cluster's Mage project: once, never over the user's changes, and blocks that work.

The seeding tests use a bare stand-in project (its `metadata.yaml` is all `seed` looks for); that Mage
lists and runs the seeded pipeline is the real-cluster scenario of test_command.py. The block code and
metadata are checked with the pinned Mage venv's own Python (pandas, PyYAML), without a Mage server.
"""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from mage_mcp.local import hello_mage, mage

PIPELINE = Path("project/pipelines/hello_mage/metadata.yaml")
LOADER = Path("project/data_loaders/hello_mage_load.py")
GREETER = Path("project/transformers/hello_mage_greet.py")
MARKER = Path("project") / hello_mage.MARKER
SEEDED = (PIPELINE, LOADER, GREETER, Path("project/pipelines/hello_mage/__init__.py"), MARKER)


@pytest.fixture
def cluster_dir(tmp_path: Path) -> Path:
    """A launcher directory whose Mage project exists (as after `mage init`) without hello_mage."""
    project = tmp_path / "cluster" / "project"
    for folder in ("data_loaders", "transformers", "pipelines/example_pipeline"):
        (project / folder).mkdir(parents=True)
    (project / "metadata.yaml").write_text("project_type: standalone\n")
    return tmp_path / "cluster"


def contents(cluster_dir: Path) -> dict[str, str]:
    """Every file under the directory by relative path: what a seed must leave alone."""
    return {str(p.relative_to(cluster_dir)): p.read_text() for p in sorted(cluster_dir.rglob("*")) if p.is_file()}


def test_a_new_project_gets_the_pipeline_once(cluster_dir: Path) -> None:
    created = datetime(2026, 12, 3, 9, 7, 48, 99803, tzinfo=UTC)
    assert hello_mage.seed(cluster_dir, now=created) is True
    assert all((cluster_dir / path).is_file() for path in SEEDED)
    metadata = (cluster_dir / PIPELINE).read_text()
    assert metadata == hello_mage.metadata_yaml(cluster_dir / "mage_data" / "project", created)
    assert "created_at: '2026-12-03 09:07:48.099803+00:00'\n" in metadata
    assert "run_pipeline_in_one_process: true\n" in metadata
    assert (cluster_dir / LOADER).read_text() == hello_mage.LOADER_CODE
    assert (cluster_dir / GREETER).read_text() == hello_mage.GREETER_CODE

    before = contents(cluster_dir)
    assert hello_mage.seed(cluster_dir) is False  # a later start: nothing changes, created_at included
    assert contents(cluster_dir) == before


def test_a_changed_hello_mage_is_never_overwritten(cluster_dir: Path) -> None:
    hello_mage.seed(cluster_dir)
    (cluster_dir / LOADER).write_text("# my own loader\n")
    metadata = (cluster_dir / PIPELINE).read_text()
    (cluster_dir / PIPELINE).write_text(metadata.replace("description: null", "description: mine"))
    (cluster_dir / GREETER).unlink()
    changed = contents(cluster_dir)
    assert hello_mage.seed(cluster_dir) is False
    assert contents(cluster_dir) == changed

    # Even without the marker (an older project whose user made a hello_mage), it stays as it is.
    (cluster_dir / MARKER).unlink()
    assert hello_mage.seed(cluster_dir) is False
    assert (cluster_dir / MARKER).is_file()
    assert {k: v for k, v in contents(cluster_dir).items() if k != str(MARKER)} == {
        k: v for k, v in changed.items() if k != str(MARKER)
    }


def test_a_deleted_hello_mage_stays_deleted(cluster_dir: Path) -> None:
    hello_mage.seed(cluster_dir)
    for path in (PIPELINE, PIPELINE.with_name("__init__.py"), LOADER, GREETER):
        (cluster_dir / path).unlink()
    assert hello_mage.seed(cluster_dir) is False
    assert not (cluster_dir / PIPELINE).exists()
    assert not (cluster_dir / LOADER).exists()


def test_an_older_project_gets_it_and_an_interrupted_seed_is_finished(cluster_dir: Path) -> None:
    # A seed cut short after the loader's file (or a project from before hello_mage, with that file):
    # no marker and no pipeline, so the next start finishes it and keeps the file that is there.
    (cluster_dir / LOADER).write_text("# already here\n")
    assert hello_mage.seed(cluster_dir) is True
    assert (cluster_dir / LOADER).read_text() == "# already here\n"
    assert (cluster_dir / GREETER).read_text() == hello_mage.GREETER_CODE
    assert (cluster_dir / PIPELINE).is_file()
    assert (cluster_dir / MARKER).is_file()


def test_no_project_yet_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        hello_mage.seed(tmp_path / "cluster")
    assert not (tmp_path / "cluster").exists()


@pytest.mark.mage
@pytest.mark.parametrize("path", ["/tmp/plain/mage_data/project", "/tmp/with space: and 'quote\"/mage_data/project"])
def test_variables_dir_reads_back_as_written(path: str) -> None:
    text = hello_mage.metadata_yaml(Path(path), datetime.now(UTC))
    assert yaml_in_mage_venv(text)["variables_dir"] == path


# The blocks as Mage calls them (decorators stubbed: Mage's own are identity-like), in the Mage venv.
RUN_BLOCKS = """
import json, os, sys
cases = json.loads(sys.argv[1])
loader, greeter = {'data_loader': lambda f: f}, {'transformer': lambda f: f}
exec(compile(open(sys.argv[2]).read(), 'loader', 'exec'), loader)
exec(compile(open(sys.argv[3]).read(), 'greeter', 'exec'), greeter)
out = []
for env, kwargs in cases:
    os.environ.pop('GREETING', None)
    os.environ.update(env)
    data = loader['load_greeting'](**kwargs)
    out.append([data.to_dict('records'), greeter['greet'](data, **kwargs).to_dict('records')])
print(json.dumps(out))
"""


def mage_python() -> str:
    return str(mage.ensure_venv() / "bin" / "python")


def yaml_in_mage_venv(text: str) -> dict[str, Any]:
    code = "import json, sys, yaml; print(json.dumps(yaml.safe_load(sys.stdin.read())))"
    result = subprocess.run([mage_python(), "-c", code], input=text, capture_output=True, text=True, check=True)
    loaded: dict[str, Any] = json.loads(result.stdout)
    return loaded


@pytest.mark.mage
def test_the_blocks_greet_with_defaults_and_with_values(cluster_dir: Path) -> None:
    hello_mage.seed(cluster_dir)
    cases = [
        ({}, {}),
        ({"GREETING": ""}, {"name": ""}),
        ({"GREETING": "Bonjour"}, {"name": "Ada", "execution_partition": "1/2026"}),
        ({}, {"name": 7}),
    ]
    argv = [mage_python(), "-c", RUN_BLOCKS, json.dumps(cases), str(cluster_dir / LOADER), str(cluster_dir / GREETER)]
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1]) == [
        [[{"greeting": "hello", "name": "world"}], [{"message": "hello, world!"}]],
        [[{"greeting": "hello", "name": "world"}], [{"message": "hello, world!"}]],
        [[{"greeting": "Bonjour", "name": "Ada"}], [{"message": "Bonjour, Ada!"}]],
        [[{"greeting": "hello", "name": "7"}], [{"message": "hello, 7!"}]],
    ]
    assert "Bonjour, Ada!" in result.stdout  # printed, so it is in the block's log


@pytest.mark.mage
def test_the_metadata_is_the_pipeline_mage_runs(cluster_dir: Path) -> None:
    hello_mage.seed(cluster_dir)
    pipeline = yaml_in_mage_venv((cluster_dir / PIPELINE).read_text())
    assert pipeline["uuid"] == pipeline["name"] == hello_mage.PIPELINE_UUID
    assert pipeline["type"] == "python"
    assert pipeline["run_pipeline_in_one_process"] is True
    blocks = {b["uuid"]: b for b in pipeline["blocks"]}
    assert list(blocks) == [hello_mage.LOADER_UUID, hello_mage.GREETER_UUID]
    loader, greeter = blocks.values()
    assert (loader["type"], loader["language"], loader["upstream_blocks"]) == ("data_loader", "python", [])
    assert loader["downstream_blocks"] == [hello_mage.GREETER_UUID]
    assert (greeter["type"], greeter["language"], greeter["downstream_blocks"]) == ("transformer", "python", [])
    assert greeter["upstream_blocks"] == [hello_mage.LOADER_UUID]
