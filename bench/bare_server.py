"""The baseline for the cold-start comparison: a bare SDK server with one trivial async tool, over stdio."""

from mcp.server import MCPServer

mcp = MCPServer("bare")


@mcp.tool()
async def echo(text: str) -> str:
    """Return the text unchanged."""
    return text


if __name__ == "__main__":
    mcp.run()
