"""MCP resources: `mage://pipelines/{uuid}` and `mage://runs/{id}`, read through the tools' own code,
and `mage://audit/recent`, the last changes tried.

Each template answers what its tool answers (`get_pipeline`, `get_run`) as JSON, bounded like the
tool. An unknown or invalid pipeline or run is an MCP error (-32602) that says what to do; any other
upstream failure is an MCP error with the tool's hint. Completion offers pipeline uuids by prefix
and the latest run ids; when Mage cannot answer, it offers nothing rather than failing.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Collection
from typing import TYPE_CHECKING, Any, cast

import anyio.to_thread
from mcp import MCPError
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ResourceError, ToolError
from mcp.types import (
    INVALID_PARAMS,
    Completion,
    CompletionArgument,
    CompletionContext,
    PromptReference,
    ResourceTemplateReference,
)
from pydantic import BaseModel, TypeAdapter, ValidationError

from mage_mcp.clients import MageError, MageNotFoundError
from mage_mcp.tools.names import PipelineUuid
from mage_mcp.tools.pipelines import get_pipeline
from mage_mcp.tools.runs import RunId, get_run

from .audit import AuditError
from .errors import describe_invalid_value, describe_upstream
from .runtime import Runtime
from .schemas import without_nulls

if TYPE_CHECKING:
    from mcp.server import MCPServer

log = logging.getLogger(__name__)

PIPELINE_TEMPLATE = "mage://pipelines/{uuid}"
RUN_TEMPLATE = "mage://runs/{id}"
AUDIT_URI = "mage://audit/recent"
AUDIT_ENTRIES = 50
AUDIT_BUDGET_BYTES = 90_000
MAX_PIPELINES_COMPLETED = 100
RECENT_RUNS_COMPLETED = 20

_PIPELINE_UUID: TypeAdapter[str] = TypeAdapter(PipelineUuid)
_RUN_ID: TypeAdapter[int] = TypeAdapter(RunId)


def add_resources(server: MCPServer[Runtime], runtime: Runtime, served: Collection[str]) -> None:
    """Registers the audit resource, and each template whose tool `served` includes (a template reads what
    its tool reads, so toolsets that leave the tool out leave the template out too)."""

    async def read_audit() -> str:
        return await anyio.to_thread.run_sync(recent_audit, runtime)  # file reads off the event loop

    server.resource(
        AUDIT_URI,
        name="audit",
        title="Recent changes (audit log)",
        description=f"The last {AUDIT_ENTRIES} mutation attempts recorded in the audit log, newest first.",
        mime_type="application/json",
    )(read_audit)
    if "get_pipeline" in served:
        server.resource(
            PIPELINE_TEMPLATE,
            name="pipeline",
            title="Mage pipeline",
            description="A pipeline as get_pipeline shows it: blocks in execution order, variables, trigger count.",
            mime_type="application/json",
        )(read_pipeline)
    if "get_run" in served:
        server.resource(
            RUN_TEMPLATE,
            name="run",
            title="Mage pipeline run",
            description="A pipeline run as get_run shows it: status, times, block statuses.",
            mime_type="application/json",
        )(read_run)


async def read_pipeline(uuid: str, ctx: Context) -> str:  # the SDK finds only a bare Context
    pipeline_uuid = _valid(_PIPELINE_UUID, uuid, "uuid", f"mage://pipelines/{uuid}")
    return await _answer(get_pipeline(_tool_context(ctx), pipeline_uuid), f"mage://pipelines/{uuid}", ctx)


async def read_run(id: str, ctx: Context) -> str:
    run_id = _valid(_RUN_ID, id, "id", f"mage://runs/{id}")
    return await _answer(get_run(_tool_context(ctx), run_id), f"mage://runs/{id}", ctx)


def recent_audit(runtime: Runtime) -> str:
    """The newest records first, as many of the last `AUDIT_ENTRIES` as fit in the result budget."""
    try:
        records = runtime.audit.recent(AUDIT_ENTRIES)
    except AuditError as exc:
        raise ResourceError(str(exc)) from None
    shown: list[str] = []
    size = 0
    for record in records:
        line = record.model_dump_json()
        if size + len(line) > AUDIT_BUDGET_BYTES:
            break
        shown.append(line)
        size += len(line) + 1
    left_out = f',"left_out":{len(records) - len(shown)}' if len(shown) < len(records) else ""
    return f'{{"path":{json.dumps(str(runtime.audit.path))},"entries":[{",".join(shown)}]{left_out}}}'


def _tool_context(ctx: Context) -> Context[Runtime, Any]:
    return cast("Context[Runtime, Any]", ctx)


def _valid(adapter: TypeAdapter[Any], value: str, name: str, uri: str) -> Any:
    try:
        return adapter.validate_python(value)
    except ValidationError as exc:
        detail = describe_invalid_value(exc, name)
        raise MCPError(INVALID_PARAMS, f"Invalid resource {uri}: {detail}", {"uri": uri}) from None


async def _answer(read: Awaitable[BaseModel], uri: str, ctx: Context) -> str:
    setting = _tool_context(ctx).request_context.lifespan_context.profile().setting
    try:
        result = await read
    except MageNotFoundError as exc:
        raise MCPError(INVALID_PARAMS, describe_upstream(exc, "cluster", setting), {"uri": uri}) from None
    except MageError as exc:
        raise ResourceError(describe_upstream(exc, "cluster", setting)) from None
    except ToolError as exc:
        raise ResourceError(str(exc)) from None
    return json.dumps(without_nulls(result.model_dump(mode="json")), separators=(",", ":"), ensure_ascii=False)


def add_completion(server: MCPServer[Runtime], runtime: Runtime) -> None:
    """Completes a template's `uuid` (and a prompt's `pipeline_uuid`) by prefix, and a run template's `id`."""

    async def complete(
        ref: PromptReference | ResourceTemplateReference,
        argument: CompletionArgument,
        context: CompletionContext | None,
    ) -> Completion | None:
        pipeline = (
            isinstance(ref, ResourceTemplateReference) and ref.uri == PIPELINE_TEMPLATE and argument.name == "uuid"
        ) or (isinstance(ref, PromptReference) and argument.name == "pipeline_uuid")
        run = isinstance(ref, ResourceTemplateReference) and ref.uri == RUN_TEMPLATE and argument.name == "id"
        if not (pipeline or run):
            return None
        try:
            values = await (pipeline_uuids(runtime, argument.value) if pipeline else run_ids(runtime, argument.value))
        except (MageError, ToolError) as exc:  # Mage down or refusing: nothing to offer, not a failure
            log.warning("Completion of %r offers nothing: %s", argument.name, type(exc).__name__)
            values = []
        return Completion(values=values, total=len(values), has_more=False)

    server.completion()(complete)  # type: ignore[no-untyped-call]


async def pipeline_uuids(runtime: Runtime, prefix: str) -> list[str]:
    page = await runtime.target().cluster.list_pipelines(search=prefix or None, limit=MAX_PIPELINES_COMPLETED)
    return [p.uuid for p in page.items if p.uuid.startswith(prefix)][:MAX_PIPELINES_COMPLETED]


async def run_ids(runtime: Runtime, prefix: str) -> list[str]:
    page = await runtime.target().cluster.list_runs(limit=RECENT_RUNS_COMPLETED)
    return [str(r.id) for r in page.items if str(r.id).startswith(prefix)]
