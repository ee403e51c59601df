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
