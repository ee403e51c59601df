"""``hello_mage``: a two-block pipeline that runs offline, seeded into every local-cloud cluster's Mage project.

A new Mage project holds only ``example_pipeline``, whose first block downloads a file, so on an
offline machine nothing in it can run. ``hello_mage`` shows the whole round trip without a network:

- ``hello_mage_load`` (data loader) returns a one-row DataFrame ``greeting, name``: ``greeting`` is the
  ``GREETING`` environment variable of the Mage process (a cluster's ``extraEnvs``), ``"hello"`` when
  unset or empty; ``name`` is the run variable ``name`` (``kwargs['name']``), ``"world"`` when missing.
- ``hello_mage_greet`` (transformer, downstream of it) returns a one-row DataFrame ``message`` with
  ``"<greeting>, <name>!"`` and prints it, so it is in the block's log as well as its output.

The files are what Mage 0.9.80 writes when the pipeline is made through its API (keys and layout of
``metadata.yaml`` as Mage dumps them; the blocks as never run), with ``run_pipeline_in_one_process: true``
(multi-block runs can hang in Mage's process queue otherwise). Block files are project-wide in Mage,
hence names unique to this pipeline.

Seeding happens once per project: a marker file in the Mage project records it, so a ``hello_mage`` the
user changed or deleted is never rewritten or brought back. Older projects (no marker) get it on their
next start, unless they already have a pipeline of that name.
"""

from __future__ import annotations

import logging
import os
import re
from datetime import UTC, datetime
from pathlib import Path

__all__ = ["GREETER_UUID", "LOADER_UUID", "MARKER", "PIPELINE_UUID", "seed"]

PIPELINE_UUID = "hello_mage"
LOADER_UUID = "hello_mage_load"
GREETER_UUID = "hello_mage_greet"
MARKER = ".mage_mcp_hello_mage"

logger = logging.getLogger(__name__)

LOADER_CODE = '''\
import os

import pandas as pd

if 'data_loader' not in globals():
    from mage_ai.data_preparation.decorators import data_loader


@data_loader
def load_greeting(*args, **kwargs):
    """GREETING from the Mage process's environment and the run variable `name`, with defaults."""
    greeting = os.environ.get('GREETING') or 'hello'
    name = kwargs.get('name')
    if name is None or name == '':
        name = 'world'
    return pd.DataFrame({'greeting': [greeting], 'name': [str(name)]})
'''

GREETER_CODE = '''\
import pandas as pd

if 'transformer' not in globals():
    from mage_ai.data_preparation.decorators import transformer


@transformer
def greet(data, *args, **kwargs):
    """'<greeting>, <name>!' from the loader's one row; printed too, so the block's log shows it."""
    row = data.iloc[0]
    message = f"{row['greeting']}, {row['name']}!"
    print(message)
    return pd.DataFrame({'message': [message]})
'''

# What Mage 0.9.80 writes for this pipeline (yaml.dump of Pipeline.to_dict: keys sorted, block lists
# at the key's indentation); {created_at} and {variables_dir} are filled in when seeding.
METADATA_TEMPLATE = """\
blocks:
- all_upstream_blocks_executed: true
  color: null
  configuration: {{}}
  downstream_blocks:
  - {greeter}
  executor_config: null
  executor_type: local_python
  has_callback: false
  language: python
  name: {loader}
  retry_config: null
  status: not_executed
  timeout: null
  type: data_loader
  upstream_blocks: []
  uuid: {loader}
- all_upstream_blocks_executed: false
  color: null
  configuration: {{}}
  downstream_blocks: []
  executor_config: null
  executor_type: local_python
  has_callback: false
  language: python
  name: {greeter}
  retry_config: null
  status: not_executed
  timeout: null
  type: transformer
  upstream_blocks:
  - {loader}
  uuid: {greeter}
cache_block_output_in_memory: false
callbacks: []
concurrency_config: {{}}
conditionals: []
created_at: '{created_at}'
data_integration: null
description: null
executor_config: {{}}
executor_count: 1
executor_type: null
extensions: {{}}
name: {pipeline}
notification_config: {{}}
remote_variables_dir: null
retry_config: {{}}
run_pipeline_in_one_process: true
settings:
  triggers: null
spark_config: {{}}
tags: []
type: python
uuid: {pipeline}
variables_dir: {variables_dir}
widgets: []
"""

MARKER_TEXT = (
    "mage-mcp seeded the hello_mage pipeline into this project once and will not again,\n"
    "so your changes to it (or its deletion) stay. Delete this file to have it seeded on the\n"
    "next local-cloud start if the project has no hello_mage pipeline.\n"
)

_PLAIN_YAML = re.compile(r"[A-Za-z0-9_./][A-Za-z0-9_./-]*")


def _yaml_string(text: str) -> str:
    """A YAML scalar for ``text``: plain when that reads back the same (as Mage's dump), else double-quoted."""
    if _PLAIN_YAML.fullmatch(text):
        return text
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def metadata_yaml(variables_dir: Path, created_at: datetime) -> str:
    """The pipeline's metadata.yaml; ``variables_dir`` is informative only (Mage derives its own on load)."""
    return METADATA_TEMPLATE.format(
        pipeline=PIPELINE_UUID,
        loader=LOADER_UUID,
        greeter=GREETER_UUID,
        created_at=str(created_at),
        variables_dir=_yaml_string(str(variables_dir)),
    )


def _write_new(path: Path, text: str) -> bool:
    """Create ``path`` with ``text`` unless it exists (never overwrites); True when written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with path.open("x") as handle:
            handle.write(text)
    except FileExistsError:
        return False
    return True


def _write_atomically(path: Path, text: str) -> None:
    """Write through a temporary file and a rename, so Mage never reads half a metadata.yaml."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def seed(project_dir: Path, *, now: datetime | None = None) -> bool:
    """Add ``hello_mage`` to the Mage project of launcher directory ``project_dir`` once; True when it did.

    ``project_dir`` is the directory `mage_mcp.local.mage` runs (``DIR/project`` is the Mage project,
    ``DIR/mage_data`` its MAGE_DATA_DIR). Nothing is written when the marker says it was seeded before,
    or when a ``hello_mage`` pipeline already exists (then only the marker is added). Block files that
    already exist are kept. metadata.yaml comes last, so an interrupted seed is finished on the next call.
    Raises FileNotFoundError when the Mage project does not exist yet.
    """
    project = Path(project_dir) / "project"
    if not (project / "metadata.yaml").is_file():
        raise FileNotFoundError(f"no Mage project in {project} (mage init first)")
    marker = project / MARKER
    if marker.exists():
        return False
    pipeline_dir = project / "pipelines" / PIPELINE_UUID
    metadata = pipeline_dir / "metadata.yaml"
    seeded = not metadata.exists()
    if seeded:
        _write_new(project / "data_loaders" / f"{LOADER_UUID}.py", LOADER_CODE)
        _write_new(project / "transformers" / f"{GREETER_UUID}.py", GREETER_CODE)
        _write_new(pipeline_dir / "__init__.py", "")
        variables_dir = Path(project_dir) / "mage_data" / project.name
        _write_atomically(metadata, metadata_yaml(variables_dir, now or datetime.now(UTC)))
        logger.info("seeded the %s pipeline into %s", PIPELINE_UUID, project)
    _write_new(marker, MARKER_TEXT)
    return seeded
