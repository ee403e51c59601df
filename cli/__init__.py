"""mage-mcp: an MCP server for Mage, with a person confirming every change.

Layers, one direction: `mage_mcp.server` (assembly, confirmation, transports) →
`mage_mcp.tools` (typed adapters) → `mage_mcp.clients` (HTTP to Mage).
"""

__version__ = "0.1.0"
