"""stdio, SSE and Streamable HTTP, behind one `serve()`.

HTTP binds to 127.0.0.1 by default and keeps the SDK's Host/Origin (DNS-rebinding)
protection, which also admits the names in MAGE_MCP_ALLOWED_HOSTS (the public name a load
balancer forwards). It refuses a non-loopback address unless MAGE_MCP_AUTH_TOKEN is set; when it
is set, every HTTP request needs `Authorization: Bearer <token>`, on any address.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
from typing import Literal

from pydantic import SecretStr
from starlette.types import ASGIApp, Receive, Scope, Send

from .app import MageMCPServer

Transport = Literal["stdio", "sse", "streamable-http"]
PATHS: dict[Transport, str] = {"stdio": "", "sse": "/sse", "streamable-http": "/mcp"}

log = logging.getLogger("mage_mcp")


class UnsafeBindError(Exception):
    """HTTP on a non-loopback address without MAGE_MCP_AUTH_TOKEN."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class BearerAuth:
    """ASGI middleware: every HTTP request must carry `Authorization: Bearer <token>`."""

    def __init__(self, app: ASGIApp, token: SecretStr) -> None:
        self.app = app
        self._expected = f"Bearer {token.get_secret_value()}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not self._authorized(scope):
            await send(
                {
                    "type": "http.response.start",
                    "status": 401,
                    "headers": [(b"content-type", b"application/json"), (b"www-authenticate", b"Bearer")],
                }
            )
            await send({"type": "http.response.body", "body": b'{"error":"missing or wrong bearer token"}'})
            return
        await self.app(scope, receive, send)

    def _authorized(self, scope: Scope) -> bool:
        given = dict(scope["headers"]).get(b"authorization", b"")
        return hmac.compare_digest(given, self._expected)


def http_app(server: MageMCPServer, transport: Transport, host: str) -> ASGIApp:
    """The ASGI app for an HTTP transport, with bearer auth when a token is configured."""
    from mcp.server.transport_security import TransportSecuritySettings

    token = server.runtime.settings.mage_mcp_auth_token
    if not is_loopback(host) and token is None:
        raise UnsafeBindError(
            f"Refusing to serve on {host}, which is not a loopback address, without authentication: "
            "set MAGE_MCP_AUTH_TOKEN (every request must then send 'Authorization: Bearer <token>'), "
            "or bind to 127.0.0.1."
        )
    public = server.runtime.settings.mage_mcp_allowed_hosts or ()
    security = None
    if not is_loopback(host) or public:
        # The SDK turns its Host/Origin check off for a non-loopback host; keep it on, for this host too,
        # and for the names a load balancer in front forwards (with or without a port).
        bound = [] if is_loopback(host) else [f"{host}:*"]
        hosts = ["127.0.0.1:*", "localhost:*", "[::1]:*", *bound, *public, *(f"{name}:*" for name in public)]
        security = TransportSecuritySettings(
            allowed_hosts=hosts, allowed_origins=[f"http://{h}" for h in hosts] + [f"https://{h}" for h in hosts]
        )
    if transport == "sse":
        app: ASGIApp = server.sse_app(host=host, transport_security=security)
    else:
        app = server.streamable_http_app(host=host, transport_security=security)
    return BearerAuth(app, token) if token is not None else app


def serve(server: MageMCPServer, transport: Transport, host: str, port: int) -> None:
    if transport == "stdio":
        server.run()
        return
    import uvicorn

    app = http_app(server, transport, host)
    shown = f"[{host}]" if ":" in host else host
    log.warning("mage-mcp serving %s at http://%s:%d%s", transport, shown, port, PATHS[transport])
    uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning")).run()
