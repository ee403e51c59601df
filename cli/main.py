"""The `mage-mcp` command (also `python -m mage_mcp`)."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

from pydantic import ValidationError

DESCRIPTION = "MCP server for Mage: pipelines and runs on a Mage cluster, Mage Pro clusters via Mage Cloud."


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="mage-mcp",
        description=DESCRIPTION,
        epilog="mage-mcp local-cloud --help: a local Mage Cloud over real local Mage clusters.",
    )
    parser.add_argument(
        "--transport", choices=["stdio", "sse", "streamable-http"], default="stdio", help="default: stdio"
    )
    parser.add_argument("--host", default="127.0.0.1", help="HTTP transports only (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="HTTP transports only (default 8000)")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    tools = parser.add_argument_group("which tools are served (each flag overrides its environment variable)")
    tools.add_argument(
        "--read-only",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="serve only tools that change nothing (MAGE_MCP_READ_ONLY)",
    )
    tools.add_argument("--toolsets", metavar="A,B", help="only these toolsets, e.g. clusters,runs (MAGE_MCP_TOOLSETS)")
    tools.add_argument("--tools", metavar="A,B", help="only these tools, by name (MAGE_MCP_TOOLS)")
    tools.add_argument("--exclude-tools", metavar="A,B", help="leave these tools out (MAGE_MCP_EXCLUDE_TOOLS)")
    return parser.parse_args(argv)


def overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The settings the command line gives; they win over the environment."""
    given = {
        "mage_mcp_read_only": args.read_only,
        "mage_mcp_toolsets": args.toolsets,
        "mage_mcp_tools": args.tools,
        "mage_mcp_exclude_tools": args.exclude_tools,
    }
    return {name: value for name, value in given.items() if value is not None}


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["local-cloud"]:
        from mage_mcp.local.cloud.command import main as local_cloud

        local_cloud(argv[1:])
        return
    args = parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="%(name)s: %(message)s")

    from mage_mcp.server.app import build_server
    from mage_mcp.server.audit import AuditError
    from mage_mcp.server.config import Settings
    from mage_mcp.server.profiles import ProfileConfigError
    from mage_mcp.server.selection import SelectionError
    from mage_mcp.server.state import StateConfigError
    from mage_mcp.server.transports import UnsafeBindError, serve

    try:
        settings = Settings(**overrides(args))
    except ValidationError as exc:
        fields = ", ".join(str(e["loc"][0]).upper() for e in exc.errors(include_input=False))
        sys.exit(f"mage-mcp: invalid configuration in {fields}; see the README's configuration table.")
    if (warning := settings.replica_warning()) is not None:
        print(f"mage-mcp: warning: {warning}", file=sys.stderr)
    try:
        server = build_server(settings)
    except (SelectionError, ProfileConfigError, AuditError, StateConfigError) as exc:
        sys.exit(f"mage-mcp: {exc}")
    try:
        serve(server, args.transport, args.host, args.port)
    except UnsafeBindError as exc:
        sys.exit(f"mage-mcp: {exc}")
    except KeyboardInterrupt:
        pass


def _version() -> str:
    from mage_mcp import __version__

    return __version__
