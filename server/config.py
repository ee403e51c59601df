"""Configuration, read once from the environment (and a `.env` file in the working directory)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from mage_mcp.clients import DEFAULT_CLOUD_URL, MAGE_PUBLIC_API_KEY

ConfirmFallback = Literal["token", "deny", "allow"]
Names = Annotated[tuple[str, ...] | None, NoDecode]
"""A comma-separated list of names (`clusters,runs`); unset or blank means no narrowing."""


class Settings(BaseSettings):
    """Every variable the server reads. Secrets are `SecretStr`, so they never print."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    mage_cloud_url: str = DEFAULT_CLOUD_URL
    mage_cloud_api_key: SecretStr | None = None
    mage_cloud_email: str | None = None
    mage_cloud_password: SecretStr | None = None
    mage_team_id: str | None = None
    mage_cluster_id: str | None = None

    mage_cluster_url: str = "http://localhost:6789"
    mage_api_key: SecretStr = SecretStr(MAGE_PUBLIC_API_KEY)
    mage_email: str | None = None
    mage_password: SecretStr | None = None

    mage_mcp_confirm_fallback: ConfirmFallback = "token"
    mage_mcp_confirm_ttl_s: int = Field(default=300, gt=0, le=86_400)
    mage_mcp_auth_token: SecretStr | None = None
    mage_mcp_allowed_hosts: Names = None
    """Host names besides loopback that HTTP requests may name (a load balancer's public name)."""
    mage_mcp_state_url: SecretStr | None = None
    """`redis://…`: state shared by replicas (used tokens, idempotency keys, write locks); unset: this process."""
    mage_mcp_confirm_secret: SecretStr | None = Field(default=None, min_length=32)
    """Shared by replicas so each honours the others' confirmation tokens and elicitation rounds."""

    mage_mcp_config: Path | None = None
    """The profiles file; unset means `profiles.default_config_path()` if it exists, else one profile from these."""
    mage_mcp_audit_log: Path = Path("~/.local/state/mage-mcp/audit.jsonl")

    mage_mcp_read_only: bool = False
    mage_mcp_toolsets: Names = None
    mage_mcp_tools: Names = None
    mage_mcp_exclude_tools: Names = None

    @field_validator(
        "mage_mcp_toolsets", "mage_mcp_tools", "mage_mcp_exclude_tools", "mage_mcp_allowed_hosts", mode="before"
    )
    @classmethod
    def _split_names(cls, value: object) -> object:
        if isinstance(value, str):
            names = tuple(name.strip() for name in value.split(",") if name.strip())
            return names or None
        return value

    def replica_warning(self) -> str | None:
        """What a half-configured set of replicas gets wrong, or None."""
        if self.mage_mcp_confirm_secret is not None and self.mage_mcp_state_url is None:
            return (
                "MAGE_MCP_CONFIRM_SECRET is set without MAGE_MCP_STATE_URL: replicas honour each other's "
                "confirmation tokens, but each remembers only its own used ones, so a token works once per replica. "
                "Set MAGE_MCP_STATE_URL=redis://… to share them."
            )
        if self.mage_mcp_state_url is not None and self.mage_mcp_confirm_secret is None:
            return (
                "MAGE_MCP_STATE_URL is set without MAGE_MCP_CONFIRM_SECRET: each replica signs with a key of its own, "
                "so a confirmation token or elicitation round works only on the replica that issued it. "
                "Set the same MAGE_MCP_CONFIRM_SECRET (32 characters or more) on every replica."
            )
        return None

    def missing_cloud_credentials(self) -> list[str]:
        """Names of the Cloud variables that are not set (empty when the Cloud plane is usable)."""
        required = {
            "MAGE_CLOUD_API_KEY": self.mage_cloud_api_key,
            "MAGE_CLOUD_EMAIL": self.mage_cloud_email,
            "MAGE_CLOUD_PASSWORD": self.mage_cloud_password,
        }
        return [name for name, value in required.items() if not value]
