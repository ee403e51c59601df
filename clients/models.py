"""Pydantic models of the JSON Mage sends back, reduced to the fields this project reads.

Mage's datetimes are not consistent ISO-8601 (a space or a `T`, a zone or none); they are
parsed leniently and a missing zone is taken as UTC, as Mage writes UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field


def _assume_utc(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


MageDatetime = Annotated[datetime | None, AfterValidator(_assume_utc)]


class MageModel(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class BlockSummary(MageModel):
    uuid: str
    name: str | None = None
    type: str | None = None


class Pipeline(MageModel):
    uuid: str
    name: str | None = None
    type: str | None = None
    description: str | None = None
    tags: list[str] = Field(default_factory=list)
    blocks: list[BlockSummary] = Field(default_factory=list)
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
