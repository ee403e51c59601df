"""Assembles the MCP server: tools, confirmation gate, configuration, compact results."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

from mcp import MCPError
from mcp.server import MCPServer
from mcp.server.mcpserver import Context, RequestStateSecurity
from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from mcp.server.mcpserver.tools import Tool
from mcp.types import INVALID_PARAMS, CallToolResult, GetPromptResult, InputRequiredResult, TextContent
from mcp.types import Tool as MCPTool
from pydantic import ValidationError

from mage_mcp import __version__
from mage_mcp.clients import MageError
from mage_mcp.tools import TOOLS, ToolSpec

from .config import Settings
from .confirmation import derived_key
from .errors import describe_invalid_arguments, describe_unexpected, describe_upstream
from .profile_calls import on_profile, refuse_on_read_only_profile, with_profile_argument
from .profiles import Profile, UnknownProfileError
from .prompts import add_prompts
from .resources import add_completion, add_resources
from .runtime import Runtime
from .schemas import compact_input_schema, compact_output_schema, without_nulls
from .selection import select

SCOPE = (
    "Operate Mage: pipelines, runs and their logs on the Mage cluster; Mage Pro clusters through Mage Cloud "
    "(team_id/cluster_id default to the configured cluster). "
)
CONFIRMATION = (
    "A person confirms every change; a change result may add message, plan, confirmation_token and expires_at. "
    "On status confirmation_required, show the plan to the user and, once they approve, repeat the call with "
    "that confirmation_token. "
)
WAITS = "Waits (wait_for_run, wait=true) send progress and return the current state with timed_out on timeout"
INSTRUCTIONS = (
    f"{SCOPE}{CONFIRMATION}{WAITS}; "
    "a cluster change with wait=true adds ready, timed_out, api (ready/not_answering/unknown) and waited_s."
)
READ_ONLY_INSTRUCTIONS = (
    f"{SCOPE}Writes are disabled: this server is read-only and offers only tools that change nothing; an operator "
    f"enables writes by starting it without --read-only / MAGE_MCP_READ_ONLY. {WAITS}."
)

MAX_RESULT_BYTES = 100_000


def instructions(runtime: Runtime) -> str:
    text = READ_ONLY_INSTRUCTIONS if runtime.settings.mage_mcp_read_only else INSTRUCTIONS
    if runtime.names_profiles:
        names = ", ".join(runtime.profiles.by_name)
        text += (
            f" Several Mage targets: every tool but list_profiles takes profile ({names}; default "
            f"{runtime.profiles.default}) and its result names the profile it used; list_profiles describes them."
        )
    return text


class MageMCPServer(MCPServer[Runtime]):
    """`MCPServer` with this project's tools, resources and prompts, upstream-error hints and compact results.

    `hidden` names tools of ours that are not served (read-only mode, toolsets), each with the
    error a call to it gets instead; `build_server` works them out from the settings.
    """

    def __init__(
        self, runtime: Runtime, tools: Sequence[ToolSpec] = TOOLS, hidden: Mapping[str, str] | None = None
    ) -> None:
        self.runtime = runtime
        self._specs = {spec.name: spec for spec in tools}
        self._hidden = dict(hidden or {})
        self._listed: list[MCPTool] | None = None
        self._numeric: dict[str, set[str]] = {}
        """Each listed tool's integer and number arguments (from its listed schema)."""

        @asynccontextmanager
        async def lifespan(_: MCPServer[Runtime]) -> AsyncIterator[Runtime]:
            async with runtime.connection() as shared:
                yield shared

        super().__init__(
            "mage-mcp",
            instructions=instructions(runtime),
            version=__version__,
            lifespan=lifespan,
            log_level="WARNING",
            tools=[Tool.from_function(spec.fn, title=spec.title, annotations=spec.annotations) for spec in tools],
            request_state_security=_shared_request_state(runtime.shared_secret),
        )
        served = [spec.name for spec in tools]
        add_resources(self, runtime, served)
        add_completion(self, runtime)
        self._hidden_prompts = add_prompts(self, served, self._hidden)

    async def list_tools(self) -> list[MCPTool]:
        if self._listed is None:
            self._listed = [self._listed_form(tool) for tool in await super().list_tools()]
            self._numeric = {
                tool.name: {
                    argument
                    for argument, schema in tool.input_schema.get("properties", {}).items()
                    if schema.get("type") in ("integer", "number")
                }
                for tool in self._listed
            }
        return self._listed

    def _listed_form(self, tool: MCPTool) -> MCPTool:
        input_schema = compact_input_schema(tool.input_schema)
        output_schema = compact_output_schema(tool.output_schema) if tool.output_schema else None
        if self.runtime.names_profiles and not self._specs[tool.name].about_server:
            input_schema = with_profile_argument(input_schema, self.runtime.profiles)
        return tool.model_copy(update={"input_schema": input_schema, "output_schema": output_schema})

    async def get_prompt(
        self, name: str, arguments: dict[str, Any] | None = None, context: Context[Runtime, Any] | None = None
    ) -> GetPromptResult | InputRequiredResult:
        if name in self._hidden_prompts:
            raise MCPError(INVALID_PARAMS, self._hidden_prompts[name])
        if name not in {prompt.name for prompt in await self.list_prompts()}:
            raise MCPError(INVALID_PARAMS, f"Unknown prompt: {name}")
        return await super().get_prompt(name, arguments, context)

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[Runtime, Any] | None = None
    ) -> CallToolResult | InputRequiredResult:
        if name in self._hidden:
            raise ToolError(self._hidden[name])
        spec = self._specs.get(name)
        if spec is None or spec.about_server:
            return await self._call(name, arguments, context)
        await self._refuse_booleans_as_numbers(name, arguments)
        arguments = dict(arguments)
        profile = self._profile_of(arguments.pop("profile", None))
        if spec.mutating and profile.read_only:
            await refuse_on_read_only_profile(self.runtime, profile, name, arguments, spec.fn)
        named = profile.name if self.runtime.names_profiles else None
        with self.runtime.serving(profile):
            try:
                return await self._call(name, arguments, context, profile=named)
            except ToolError as exc:
                if named is None:
                    raise
                raise ToolError(on_profile(str(exc), name, named)) from None

    async def _refuse_booleans_as_numbers(self, name: str, arguments: dict[str, Any]) -> None:
        """pydantic takes `true` for the integer 1; an id or a count given as a boolean is a mistake to refuse."""
        await self.list_tools()  # fills `_numeric` once
        wrong = [arg for arg, value in arguments.items() if isinstance(value, bool) and arg in self._numeric[name]]
        if wrong:
            detail = "; ".join(f"{argument}: must be a number, not true or false" for argument in wrong)
            raise ToolError(f"Error executing tool {name}: Invalid arguments: {detail}")

    def _profile_of(self, requested: object) -> Profile:
        if requested is not None and not isinstance(requested, str):
            raise ToolError("profile must be the name of a profile (a string); list_profiles lists them.")
        try:
            return self.runtime.profile(requested)
        except UnknownProfileError as exc:
            raise ToolError(str(exc)) from None

    async def _call(
        self, name: str, arguments: dict[str, Any], context: Context[Runtime, Any] | None, profile: str | None = None
    ) -> CallToolResult | InputRequiredResult:
        try:
            result = await super().call_tool(name, arguments, context)
        except ToolError as exc:
            cause = exc.__cause__
            if isinstance(cause, MageError):
                spec = self._specs[name]
                detail = describe_upstream(cause, spec.plane, self.runtime.profile().setting, spec.toolset)
            elif isinstance(cause, ValidationError):
                detail = describe_invalid_arguments(cause)
            elif isinstance(exc, UnexpectedToolError):  # the SDK has logged its traceback
                detail = describe_unexpected(cause, self._specs[name].mutating)
            else:
                raise
            raise ToolError(f"Error executing tool {name}: {detail}") from None
        if isinstance(result, CallToolResult) and result.structured_content is not None:
            structured = without_nulls(result.structured_content)
            if profile is not None:
                structured["profile"] = profile
            text = json.dumps(structured, separators=(",", ":"), ensure_ascii=False)
            if len(text.encode()) > MAX_RESULT_BYTES:  # every tool bounds itself; this is the last guard
                raise ToolError(f"Error executing tool {name}: the result is over 100 KB; narrow the request.")
            result = result.model_copy(
                update={"structured_content": structured, "content": [TextContent(type="text", text=text)]}
            )
        return result


def _shared_request_state(secret: bytes | None) -> RequestStateSecurity | None:
    """With a shared secret, an elicitation round may land on any replica (2026-07-28 seals it in the request)."""
    return RequestStateSecurity(keys=[derived_key(secret, "request state")]) if secret else None


def build_server(
    settings: Settings | None = None, runtime: Runtime | None = None, tools: Sequence[ToolSpec] = TOOLS
) -> MageMCPServer:
    """The server the settings select; raises `SelectionError` for a tool in no toolset, an unknown
    toolset or tool name, or a selection that leaves no tool, and (building the runtime)
    `ProfileConfigError` for a bad profiles file and `AuditError` for an audit log it cannot write."""
    logging.getLogger("httpx").setLevel(logging.WARNING)
    runtime = runtime or Runtime(settings or Settings())
    selection = select(tools, runtime.settings)
    return MageMCPServer(runtime, selection.listed, hidden=selection.hidden)
