"""Mage targets ("profiles"): read from a TOML profiles file, or one `default` profile from the environment.

Credentials in the file are only ever `${ENV_VAR}` references, so the file itself holds no secret; every error
message names the file, the profile and the field, and never a credential's value.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, SecretStr

from mage_mcp.clients import DEFAULT_CLOUD_URL, MAGE_PUBLIC_API_KEY
from mage_mcp.server.config import ConfirmFallback, Settings

CREDENTIAL_FIELDS: tuple[str, ...] = ("api_key", "password", "cloud_api_key", "cloud_password")
PROFILE_FIELDS: tuple[str, ...] = (
    "cluster_url",
    "api_key",
    "email",
    "password",
    "cloud_url",
    "cloud_api_key",
    "cloud_email",
    "cloud_password",
    "team_id",
    "cluster_id",
    "confirm_fallback",
    "read_only",
)
CLOUD_CREDENTIAL_FIELDS: tuple[str, ...] = ("cloud_api_key", "cloud_email", "cloud_password")
URL_FIELDS: tuple[str, ...] = ("cluster_url", "cloud_url")
TOP_LEVEL_KEYS: tuple[str, ...] = ("default_profile", "profiles")
ENVIRONMENT_PROFILE = "default"

ENVIRONMENT_VARIABLES: dict[str, str] = {
    "cluster_url": "MAGE_CLUSTER_URL",
    "api_key": "MAGE_API_KEY",
    "email": "MAGE_EMAIL",
    "password": "MAGE_PASSWORD",
    "cloud_url": "MAGE_CLOUD_URL",
    "cloud_api_key": "MAGE_CLOUD_API_KEY",
    "cloud_email": "MAGE_CLOUD_EMAIL",
    "cloud_password": "MAGE_CLOUD_PASSWORD",
    "team_id": "MAGE_TEAM_ID",
    "cluster_id": "MAGE_CLUSTER_ID",
    "confirm_fallback": "MAGE_MCP_CONFIRM_FALLBACK",
    "read_only": "MAGE_MCP_READ_ONLY",
}
"""How each field of the environment's `default` profile is set."""

PROFILE_NAME = re.compile(r"[A-Za-z0-9_-]{1,40}")
REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
"""`${NAME}`: a whole credential value, or anywhere in another string field."""

Plane = Literal["cluster", "cloud"]


class ProfileConfigError(ValueError):
    """The profiles file (or MAGE_MCP_CONFIG) is wrong; the message starts with the file's path."""


class UnknownProfileError(ValueError):
    """A tool call named a profile that is not defined; the message lists the defined ones."""


def default_config_path(environ: Mapping[str, str] = os.environ) -> Path:
    """`$XDG_CONFIG_HOME/mage-mcp/config.toml`, or `~/.config/mage-mcp/config.toml` when XDG_CONFIG_HOME is unset."""
    config_home = environ.get("XDG_CONFIG_HOME")
    base = Path(config_home) if config_home else Path("~/.config")
    return (base / "mage-mcp" / "config.toml").expanduser()



class Profile(BaseModel):
    """One Mage target: a cluster and/or a Cloud account, and how writes are confirmed on it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    cluster_url: str | None
    api_key: SecretStr
    email: str | None
    password: SecretStr | None
    cloud_url: str
    cloud_api_key: SecretStr | None
    cloud_email: str | None
    cloud_password: SecretStr | None
    team_id: str | None
    cluster_id: str | None
    confirm_fallback: ConfirmFallback
    read_only: bool
    from_file: bool

    def setting(self, field: str) -> str:
        """How an operator sets `field` for this profile, for error messages."""
        if field not in ENVIRONMENT_VARIABLES:
            raise ValueError(f"Profiles have no field {field!r}")
        if self.from_file:
            return f"{field} in [profiles.{self.name}]"
        return ENVIRONMENT_VARIABLES[field]

    def missing_cloud_credentials(self) -> list[str]:
        """`setting(f)` of each Cloud credential that is not set (empty when the Cloud plane is usable)."""
        return [self.setting(field) for field in CLOUD_CREDENTIAL_FIELDS if not _is_set(getattr(self, field))]

    @property
    def planes(self) -> list[Plane]:
        """The usable planes: "cluster" when cluster_url is set, "cloud" when no Cloud credential is missing."""
        planes: list[Plane] = []
        if self.cluster_url:
            planes.append("cluster")
        if not self.missing_cloud_credentials():
            planes.append("cloud")
        return planes


class Profiles(BaseModel):
    """Every profile, in file order, and which one a tool call without `profile` uses."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    default: str
    by_name: dict[str, Profile]
    source: Path | None

    def get(self, name: str | None) -> Profile:
        """The profile called `name`; None means the default one."""
        if name is None:
            return self.by_name[self.default]
        if name not in self.by_name:
            raise UnknownProfileError(
                f"Unknown profile {name!r}; profiles: {', '.join(self.by_name)} (list_profiles describes them)."
            )
        return self.by_name[name]


def load_profiles(settings: Settings, environ: Mapping[str, str] | None = None) -> Profiles:
    """The profiles file's profiles when there is a file, else one `default` profile from `settings`."""
    env = os.environ if environ is None else environ
    path = _config_path(settings, env)
    if path is None:
        return _environment_profiles(settings)
    return _file_profiles(path, _read_toml(path), settings, env)


# ------------------------------------------------------------------------------ where the file is
def _config_path(settings: Settings, environ: Mapping[str, str]) -> Path | None:
    if settings.mage_mcp_config is not None:
        path = settings.mage_mcp_config.expanduser()
        if not path.exists():
            raise ProfileConfigError(f"{path}: the profiles file named by MAGE_MCP_CONFIG does not exist")
        return path
    path = default_config_path(environ)
    return path if path.exists() else None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        problem = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise ProfileConfigError(f"{path}: cannot read the profiles file: {problem}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        problem = str(exc)
    # Raised outside the `except` so the decode error, which may hold the file's text, is not kept as __context__.
    raise ProfileConfigError(f"{path}: invalid TOML: {problem}")


# ------------------------------------------------------------------------------ no file
def _environment_profiles(settings: Settings) -> Profiles:
    profile = Profile(
        name=ENVIRONMENT_PROFILE,
        cluster_url=settings.mage_cluster_url,
        api_key=settings.mage_api_key,
        email=settings.mage_email,
        password=settings.mage_password,
        cloud_url=settings.mage_cloud_url,
        cloud_api_key=settings.mage_cloud_api_key,
        cloud_email=settings.mage_cloud_email,
        cloud_password=settings.mage_cloud_password,
        team_id=settings.mage_team_id,
        cluster_id=settings.mage_cluster_id,
        confirm_fallback=settings.mage_mcp_confirm_fallback,
        read_only=False,
        from_file=False,
    )
    return Profiles(default=ENVIRONMENT_PROFILE, by_name={ENVIRONMENT_PROFILE: profile}, source=None)


# ------------------------------------------------------------------------------ the file
def _file_profiles(path: Path, document: dict[str, Any], settings: Settings, environ: Mapping[str, str]) -> Profiles:
    unknown = [key for key in document if key not in TOP_LEVEL_KEYS]
    if unknown:
        raise ProfileConfigError(
            f"{path}: unknown top-level key {unknown[0]!r}; valid keys: {', '.join(TOP_LEVEL_KEYS)}"
        )
    tables = _profile_tables(path, document.get("profiles"))
    by_name = {name: _profile(path, name, table, settings, environ) for name, table in tables.items()}
    return Profiles(default=_default_name(path, document, list(by_name)), by_name=by_name, source=path)


def _profile_tables(path: Path, profiles: object) -> dict[str, dict[str, Any]]:
    if not isinstance(profiles, dict) or not profiles:
        raise ProfileConfigError(f"{path}: define at least one profile as a [profiles.<name>] table")
    for name, table in profiles.items():
        if not PROFILE_NAME.fullmatch(name):
            raise ProfileConfigError(f"{path}: profile name {name!r} must be 1 to 40 letters, digits, '_' or '-'")
        if not isinstance(table, dict):
            raise ProfileConfigError(f"{path}: profile {name!r} must be a [profiles.{name}] table")
    return profiles


def _default_name(path: Path, document: dict[str, Any], names: list[str]) -> str:
    if "default_profile" not in document:
        if len(names) == 1:
            return names[0]
        raise ProfileConfigError(f"{path}: set default_profile to one of the profiles: {', '.join(names)}")
    default = document["default_profile"]
    if not isinstance(default, str) or default not in names:
        raise ProfileConfigError(f"{path}: default_profile must name a defined profile; profiles: {', '.join(names)}")
    return default


def _profile(path: Path, name: str, table: dict[str, Any], settings: Settings, environ: Mapping[str, str]) -> Profile:
    where = f"{path}: profile {name!r}"
    unknown = [key for key in table if key not in PROFILE_FIELDS]
    if unknown:
        raise ProfileConfigError(f"{where}: unknown key {unknown[0]!r}; valid keys: {', '.join(PROFILE_FIELDS)}")
    values = {field: _field_value(where, field, raw, environ) for field, raw in table.items()}
    defaults: dict[str, object] = {
        "cluster_url": None,
        "api_key": SecretStr(MAGE_PUBLIC_API_KEY),
        "email": None,
        "password": None,
        "cloud_url": DEFAULT_CLOUD_URL,
        "cloud_api_key": None,
        "cloud_email": None,
        "cloud_password": None,
        "team_id": None,
        "cluster_id": None,
        "confirm_fallback": settings.mage_mcp_confirm_fallback,
        "read_only": False,
    }
    return Profile.model_validate({**defaults, **values, "name": name, "from_file": True})


def _field_value(where: str, field: str, raw: object, environ: Mapping[str, str]) -> object:
    if field in CREDENTIAL_FIELDS:
        return _credential(where, field, raw, environ)
    if field == "read_only":
        if not isinstance(raw, bool):
            raise ProfileConfigError(f"{where}: read_only must be true or false")
        return raw
    if not isinstance(raw, str):
        raise ProfileConfigError(f"{where}: {field} must be a string, not a TOML {type(raw).__name__}")
    value = _substitute(where, field, raw, environ)
    if field == "confirm_fallback" and value not in get_args(ConfirmFallback):
        raise ProfileConfigError(
            f"{where}: confirm_fallback must be one of {', '.join(get_args(ConfirmFallback))}, not {value!r}"
        )
    if field in URL_FIELDS and not value.startswith(("http://", "https://")):
        raise ProfileConfigError(f"{where}: {field} must start with http:// or https://")
    return value


def _credential(where: str, field: str, raw: object, environ: Mapping[str, str]) -> SecretStr:
    reference = REFERENCE.fullmatch(raw) if isinstance(raw, str) else None
    if reference is None:
        # Never echo the value: it is probably the secret itself.
        raise ProfileConfigError(
            f"{where}: {field} must be a ${{ENV_VAR}} reference (put the secret in an environment variable and "
            f'write field = "${{THAT_VARIABLE}}"); the value given is not shown'
        )
    return SecretStr(_variable(where, field, reference.group(1), environ))


def _substitute(where: str, field: str, raw: str, environ: Mapping[str, str]) -> str:
    return REFERENCE.sub(lambda match: _variable(where, field, match.group(1), environ), raw)


def _variable(where: str, field: str, variable: str, environ: Mapping[str, str]) -> str:
    value = environ.get(variable)
    if not value:
        state = "is empty" if value == "" else "is not set"
        raise ProfileConfigError(f"{where}: {field} refers to ${{{variable}}}, and {variable} {state}")
    return value


def _is_set(value: str | SecretStr | None) -> bool:
    if isinstance(value, SecretStr):
        return bool(value.get_secret_value())
    return bool(value)
