"""Pydantic models of the JSON Mage sends back, reduced to the fields this project reads.

Mage's datetimes are not consistent ISO-8601 (a space or a `T`, a zone or none); they are
parsed leniently and a missing zone is taken as UTC, as Mage writes UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator


def _assume_utc(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


MageDatetime = Annotated[datetime | None, AfterValidator(_assume_utc)]


class MageModel(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


def _names(value: object) -> list[str]:
    """A list of block uuids; Mage may send null."""
    return [str(v) for v in value] if isinstance(value, list) else []


BlockNames = Annotated[list[str], BeforeValidator(_names)]


class Block(MageModel):
    """A block of a pipeline; `content` (its code) only when the request asked for it."""

    uuid: str
    name: str | None = None
    type: str | None = None
    language: str | None = None
    upstream_blocks: BlockNames = Field(default_factory=list)
    downstream_blocks: BlockNames = Field(default_factory=list)
    content: str | None = None

    @property
    def file_path(self) -> str:
        """The block's code file, relative to the project: block files are shared by every pipeline."""
        return block_file_path(self.type or "", self.uuid, self.language or "python")


_FILE_EXTENSIONS = {"python": "py", "sql": "sql", "r": "r", "yaml": "yaml", "markdown": "md"}


def block_file_path(block_type: str, uuid: str, language: str) -> str:
    """Where Mage writes a block's code (`Block.file_directory_name` and its language's extension)."""
    folder = block_type if block_type == "custom" else f"{block_type}s"
    return f"{folder}/{uuid}.{_FILE_EXTENSIONS.get(language, 'py')}"


class Pipeline(MageModel):
    uuid: str
    name: str | None = None
    type: str | None = None
    description: str | None = None
    tags: list[str] = Field(default_factory=list)
    blocks: list[Block] = Field(default_factory=list)
    variables: dict[str, Any] | None = None
    """The pipeline's global variables (its metadata.yaml), when it has any."""
    updated_at: MageDatetime = None


class Trigger(MageModel):
    """A pipeline schedule. Its `token` is deliberately not modelled: it is a credential."""

    id: int
    name: str
    pipeline_uuid: str
    schedule_type: str | None = None
    status: str | None = None
    schedule_interval: str | None = None
    """A cron expression or a preset (`@once`, `@hourly`, ...); None for API and event triggers."""
    description: str | None = None
    start_time: MageDatetime = None
    variables: dict[str, Any] | None = None
    sla: int | None = None
    """Seconds."""
    next_pipeline_run_date: MageDatetime = None
    """Mage computes it from the schedule alone, whatever the status (lists, detail and update answers)."""


class BlockRun(MageModel):
    id: int
    block_uuid: str
    status: str
    started_at: MageDatetime = None
    completed_at: MageDatetime = None


class PipelineRun(MageModel):
    """A pipeline run. List items also carry the trigger's token (a credential): it is not modelled."""

    id: int
    pipeline_uuid: str
    status: str
    pipeline_schedule_id: int | None = None
    variables: dict[str, Any] | None = None
    execution_date: MageDatetime = None
    created_at: MageDatetime = None
    started_at: MageDatetime = None
    completed_at: MageDatetime = None
    block_runs: list[BlockRun] = Field(default_factory=list)


def _text(value: object) -> str:
    return value if isinstance(value, str) else "" if value is None else str(value)


class LogFile(MageModel):
    """One log file of a run, whole: `pipeline.log` / `scheduler.log` (kind "pipeline") or `<block>.log`."""

    name: str
    kind: Literal["pipeline", "block"]
    content: Annotated[str, BeforeValidator(_text)] = ""


class RunLogs(MageModel):
    """The log files Mage keeps for one run (at most 20 of each kind, a Mage limit)."""

    pipeline_uuid: str
    run_id: int
    files: list[LogFile] = Field(default_factory=list)


class BlockOutput(MageModel):
    """One output of a block run: a table (`columns`, first `rows`, `total_rows`) or a `text`.

    Mage serialises a DataFrame, a dict (one row) or a Series as a table of at most 1,000
    sample rows, with the full shape; a str or a number as text; a list as one output per item.
    """

    variable_uuid: str | None = None
    type: str | None = None
    columns: list[str] | None = None
    rows: list[list[Any]] | None = None
    total_rows: int | None = None
    text: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_mage(cls, data: Any) -> Any:
        """Mage's `{sample_data: {columns, rows}, shape, text_data, type, variable_uuid}` → these fields."""
        if not isinstance(data, dict) or "columns" in data or "text" in data:
            return data
        sample: dict[str, Any] = data["sample_data"] if isinstance(data.get("sample_data"), dict) else {}
        columns = sample.get("columns")
        shape = data.get("shape")
        text = data.get("text_data")
        return {
            "variable_uuid": data.get("variable_uuid"),
            "type": data.get("type"),
            "columns": [str(c) for c in columns] if isinstance(columns, list) else None,
            "rows": _rows(sample.get("rows")) if isinstance(columns, list) else None,
            "total_rows": shape[0] if isinstance(shape, list) and shape and isinstance(shape[0], int) else None,
            "text": text if isinstance(text, str) or text is None else str(text),
        }


def _rows(rows: object) -> list[list[Any]]:
    if not isinstance(rows, list):
        return []
    return [row if isinstance(row, list) else [row] for row in rows]


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of a list, with Mage's total count and whether more follow."""

    items: list[T]
    total: int | None = None
    has_more: bool = False


class Cluster(BaseModel):
    """A Mage Pro cluster as the Cloud API returns it.

    `config` is kept whole and opaque: every field this project does not change must go
    back to Mage unchanged on a PUT.
    """

    model_config = ConfigDict(extra="allow")

    id: str | int | None = None
    name: str | None = None
    status: str | None = None
    config: dict[str, Any] = Field(default_factory=dict)

    @property
    def replica_count(self) -> int | None:
        value = self.config.get("replicaCount")
        return value if isinstance(value, int) else None

    @property
    def env_vars(self) -> dict[str, str]:
        """`config.extraEnvs` as a name → value mapping (later entries win, as in a pod spec)."""
        entries = self.config.get("extraEnvs") or []
        return {
            str(entry["name"]): str(entry.get("value", ""))
            for entry in entries
            if isinstance(entry, dict) and "name" in entry
        }


@dataclass(frozen=True)
class ClusterUpdate:
    """A PUT body for a cluster: the whole new `config`, and the new `status` if it changes."""

    config: dict[str, Any]
    status: str | None = None


@dataclass(frozen=True)
class Credentials:
    """A cluster login. The password never shows in a repr."""

    email: str
    password: str

    def __repr__(self) -> str:
        return f"Credentials(email={self.email!r}, password='***')"


class Secret(MageModel):
    """A project secret as Mage lists it: its name only (Mage never returns a value)."""

    id: int | None = None
    name: str


# ---------------------------------------------------------------- workspaces and git

_WORKSPACE_SETTINGS = (
    "namespace",
    "service_account_name",
    "storage_class_name",
    "storage_access_mode",
    "storage_request_size",
    "ingress_name",
    "pvc_retention_policy",
    "project_id",
    "path_to_credentials",
    "region",
    "cluster_name",
    "task_definition",
    "container_name",
)


class WorkspaceInstance(MageModel):
    """The cloud instance of a workspace, as Mage's cluster manager reports it."""

    name: str | None = None
    status: str | None = None
    """`RUNNING`, `STOPPED`, `UNAVAILABLE`, or a pod phase upper-cased (`PENDING`, ...)."""
    type: str | None = None
    ip: str | None = None


class Workspace(MageModel):
    """A workspace (Mage Pro, or a multi-workspace Mage project): its instance and configuration."""

    name: str
    cluster_type: str | None = None
    project_uuid: str | None = None
    url: str | None = None
    instance: WorkspaceInstance | None = None
    container_config: str | None = None
    """YAML (image tag, env vars, resources); env values can be credentials."""
    lifecycle_config: dict[str, Any] | None = None
    settings: dict[str, str] = Field(default_factory=dict)
    """The cluster-specific fields that are set (namespace, region, task_definition, ...)."""

    @model_validator(mode="before")
    @classmethod
    def _collect_settings(cls, data: Any) -> Any:
        if not isinstance(data, dict) or "settings" in data:
            return data
        settings = {key: str(data[key]) for key in _WORKSPACE_SETTINGS if data.get(key) not in (None, "")}
        return {**data, "settings": settings}


Paths = Annotated[list[str], BeforeValidator(_names)]


class GitAuthor(MageModel):
    name: str | None = None
    email: str | None = None


class GitCommit(MageModel):
    """One commit as Mage 0.9.80 reports it: no sha, and a date in the server's local time without a zone."""

    message: Annotated[str, BeforeValidator(_text)] = ""
    author: GitAuthor | None = None
    date: str | None = None


class GitStatus(MageModel):
    """The repository Mage works in: its branch (None when the folder is no repository) and changed files.

    Mage lists at most 100 files of each kind and the last 12 commits (`logs`).
    """

    name: str | None = None
    modified_files: Paths = Field(default_factory=list)
    staged_files: Paths = Field(default_factory=list)
    untracked_files: Paths = Field(default_factory=list)
    logs: list[GitCommit] = Field(default_factory=list)
    logs_read: bool = True
    """False when Mage could not read the commit log (a folder that is no repository, or no commit yet)."""


class GitSyncSettings(MageModel):
    """Mage's Git sync settings (Settings → Sync data); credentials live in secrets and are not modelled."""

    remote_repo_link: str | None = None
    repo_path: str | None = None
    branch: str | None = None
    auth_type: str | None = None
    sync_submodules: bool | None = None


class DeploymentSetting(MageModel):
    """Mage Pro: a named deployment target. Its shape is not documented; read leniently (flat or `stage`)."""

    name: str
    environment: str | None = None
    stage_branch: str | None = None
    target_directory: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_stage(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not isinstance(data.get("stage"), dict):
            return data
        stage: dict[str, Any] = data["stage"]
        branch = stage.get("branch")
        return {
            "name": data.get("name"),
            "environment": data.get("environment") or stage.get("environment"),
            "stage_branch": data.get("stage_branch") or (branch.get("name") if isinstance(branch, dict) else branch),
            "target_directory": data.get("target_directory") or stage.get("target_directory"),
        }


class Deployment(MageModel):
    """Mage Pro's answer to a new deployment (its shape is undocumented: only these fields are read)."""

    id: int | str | None = None
    status: str | None = None
