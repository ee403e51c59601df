"""The MCP server: configuration, the confirmation gate, assembly of the tools, and transports.

Import `mage_mcp.server.app` for `build_server`; this package's import stays light so the
tools can use `mage_mcp.server.confirmation` and `mage_mcp.server.runtime` without a cycle.
"""
