"""The profiles file: where it is found, what it may hold, and that no credential ever shows in an error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from mage_mcp.clients import DEFAULT_CLOUD_URL, MAGE_PUBLIC_API_KEY
from mage_mcp.server.config import Settings
from mage_mcp.server.profiles import (
    CREDENTIAL_FIELDS,
    Profile,
    ProfileConfigError,
    Profiles,
    UnknownProfileError,
    default_config_path,
    load_profiles,
)

README_EXAMPLE = """\
default_profile = "dev"
[profiles.dev]
cluster_url = "http://127.0.0.1:6789"
email = "${DEV_MAGE_EMAIL}"
password = "${DEV_MAGE_PASSWORD}"
[profiles.prod]
cluster_url = "https://prod.example.com"
api_key = "${PROD_MAGE_API_KEY}"        # optional: Mage's public client key when left out
email = "${PROD_MAGE_EMAIL}"
password = "${PROD_MAGE_PASSWORD}"
cloud_url = "https://cloud.mage.ai/api/v1"
cloud_api_key = "${MAGE_CLOUD_API_KEY}"
cloud_email = "${MAGE_CLOUD_EMAIL}"
cloud_password = "${MAGE_CLOUD_PASSWORD}"
team_id = "acme"
cluster_id = "prod-1"
confirm_fallback = "deny"
read_only = false
"""
README_ENVIRON = {
    "DEV_MAGE_EMAIL": "dev@example.com",
    "DEV_MAGE_PASSWORD": "dev-password-value",
    "PROD_MAGE_API_KEY": "prod-api-key-value",
    "PROD_MAGE_EMAIL": "ops@example.com",
    "PROD_MAGE_PASSWORD": "prod-password-value",
    "MAGE_CLOUD_API_KEY": "cloud-api-key-value",
    "MAGE_CLOUD_EMAIL": "cloud@example.com",
    "MAGE_CLOUD_PASSWORD": "cloud-password-value",
}
LITERAL_SECRET = "Zq8-literal-s3cret-value-x7"
ONE_PROFILE = '[profiles.dev]\ncluster_url = "http://127.0.0.1:6789"\n'


def settings_for(config: Path | None = None, **fields: Any) -> Settings:
    return Settings(_env_file=None, mage_mcp_config=config, **fields)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "profiles.toml"
    path.write_text(text, encoding="utf-8")
    return path


def load(tmp_path: Path, text: str, environ: dict[str, str] | None = None, **fields: Any) -> Profiles:
    return load_profiles(settings_for(write(tmp_path, text), **fields), environ or {})


def load_error(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> str:
    """The error's message, after checking it starts with the file's path."""
    with pytest.raises(ProfileConfigError) as caught:
        load(tmp_path, text, environ)
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / 'profiles.toml'}: ")
    return message


def exception_chain_text(error: BaseException) -> str:
    parts: list[str] = []
    current: BaseException | None = error
    while current is not None:
        parts += [str(current), repr(current), repr(current.args)]
        current = current.__cause__ or current.__context__
    return "\n".join(parts)


# ------------------------------------------------------------------------------ the README example
def test_the_readme_example_loads_into_its_two_profiles(tmp_path: Path) -> None:
    profiles = load(tmp_path, README_EXAMPLE, README_ENVIRON)
    assert profiles.default == "dev" and list(profiles.by_name) == ["dev", "prod"]
    assert profiles.source == tmp_path / "profiles.toml"

    dev = profiles.by_name["dev"]
    assert (dev.name, dev.cluster_url, dev.email) == ("dev", "http://127.0.0.1:6789", "dev@example.com")
    assert dev.password is not None and dev.password.get_secret_value() == "dev-password-value"
    assert dev.api_key.get_secret_value() == MAGE_PUBLIC_API_KEY
    assert dev.cloud_url == DEFAULT_CLOUD_URL
    assert (dev.cloud_api_key, dev.cloud_email, dev.cloud_password) == (None, None, None)
    assert (dev.team_id, dev.cluster_id) == (None, None)
    assert (dev.confirm_fallback, dev.read_only, dev.from_file) == ("token", False, True)

    prod = profiles.by_name["prod"]
    assert prod.api_key.get_secret_value() == "prod-api-key-value"
    assert prod.cloud_api_key is not None and prod.cloud_api_key.get_secret_value() == "cloud-api-key-value"
    assert prod.cloud_password is not None and prod.cloud_password.get_secret_value() == "cloud-password-value"
    assert (prod.cloud_email, prod.team_id, prod.cluster_id) == ("cloud@example.com", "acme", "prod-1")
    assert (prod.confirm_fallback, prod.read_only) == ("deny", False)


def test_confirm_fallback_left_out_is_the_servers(tmp_path: Path) -> None:
    profiles = load(tmp_path, ONE_PROFILE, mage_mcp_confirm_fallback="allow")
    assert profiles.get(None).confirm_fallback == "allow"


def test_a_profile_may_have_only_the_cloud_plane(tmp_path: Path) -> None:
    text = '[profiles.c]\ncloud_api_key = "${K}"\ncloud_email = "a@b.c"\ncloud_password = "${P}"\n'
    profile = load(tmp_path, text, {"K": "k", "P": "p"}).get(None)
    assert profile.cluster_url is None
    assert profile.planes == ["cloud"]


def test_profiles_print_no_secret(tmp_path: Path) -> None:
    profiles = load(tmp_path, README_EXAMPLE, README_ENVIRON)
    printed = repr(profiles) + str(profiles) + "".join(repr(p) + str(p) for p in profiles.by_name.values())
    for name in ("DEV_MAGE_PASSWORD", "PROD_MAGE_API_KEY", "PROD_MAGE_PASSWORD", "MAGE_CLOUD_API_KEY"):
        assert README_ENVIRON[name] not in printed
    assert "dev@example.com" in printed  # the check above is not vacuous: fields do print


# ------------------------------------------------------------------------------ where the file is
def test_without_a_file_one_default_profile_comes_from_the_settings(tmp_path: Path) -> None:
    settings = settings_for(
        mage_cluster_url="http://mage.internal:6789",
        mage_api_key="env-api-key",
        mage_email="me@example.com",
        mage_password="env-password",
        mage_cloud_url="https://cloud.example.com/api/v1",
        mage_cloud_api_key="env-cloud-key",
        mage_cloud_email="cloud@example.com",
        mage_cloud_password="env-cloud-password",
        mage_team_id="team-9",
        mage_cluster_id="cluster-9",
        mage_mcp_confirm_fallback="deny",
    )
    profiles = load_profiles(settings, {"XDG_CONFIG_HOME": str(tmp_path / "empty")})
    assert (profiles.default, list(profiles.by_name), profiles.source) == ("default", ["default"], None)
    profile = profiles.get(None)
    assert profile.model_dump() == {
        "name": "default",
        "cluster_url": "http://mage.internal:6789",
        "api_key": SecretStr("env-api-key"),
        "email": "me@example.com",
        "password": SecretStr("env-password"),
        "cloud_url": "https://cloud.example.com/api/v1",
        "cloud_api_key": SecretStr("env-cloud-key"),
        "cloud_email": "cloud@example.com",
        "cloud_password": SecretStr("env-cloud-password"),
        "team_id": "team-9",
        "cluster_id": "cluster-9",
        "confirm_fallback": "deny",
        "read_only": False,
        "from_file": False,
    }


def test_mage_mcp_config_naming_a_missing_file_is_an_error(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.toml"
    with pytest.raises(ProfileConfigError) as caught:
        load_profiles(settings_for(missing), {})
    assert str(caught.value).startswith(f"{missing}: ") and "MAGE_MCP_CONFIG" in str(caught.value)


def test_mage_mcp_config_expands_the_home_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    write(tmp_path, ONE_PROFILE)
    profiles = load_profiles(settings_for(Path("~/profiles.toml")), {})
    assert profiles.source == tmp_path / "profiles.toml"


def test_the_xdg_config_file_is_used_when_present(tmp_path: Path) -> None:
    config = tmp_path / "xdg" / "mage-mcp" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text(ONE_PROFILE, encoding="utf-8")
    environ = {"XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    assert default_config_path(environ) == config
    profiles = load_profiles(settings_for(), environ)
    assert (profiles.source, profiles.default) == (config, "dev")


def test_the_xdg_config_file_is_ignored_when_absent(tmp_path: Path) -> None:
    profiles = load_profiles(settings_for(), {"XDG_CONFIG_HOME": str(tmp_path / "xdg")})
    assert (profiles.source, profiles.default) == (None, "default")


def test_without_xdg_config_home_the_file_is_under_dot_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_config_path({}) == tmp_path / ".config" / "mage-mcp" / "config.toml"


# ------------------------------------------------------------------------------ credentials
@pytest.mark.parametrize("field", CREDENTIAL_FIELDS)
def test_a_literal_credential_is_refused_without_showing_it(tmp_path: Path, field: str) -> None:
    with pytest.raises(ProfileConfigError) as caught:
        load(tmp_path, f'{ONE_PROFILE}{field} = "{LITERAL_SECRET}"\n')
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / 'profiles.toml'}: profile 'dev': {field} must be a ${{ENV_VAR}} reference")
    assert LITERAL_SECRET not in exception_chain_text(caught.value)


def test_a_credential_mixing_a_reference_and_a_literal_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ProfileConfigError) as caught:
        load(tmp_path, f'{ONE_PROFILE}password = "${{P}}{LITERAL_SECRET}"\n', {"P": "p"})
    assert "password must be a ${ENV_VAR} reference" in str(caught.value)
    assert LITERAL_SECRET not in exception_chain_text(caught.value)


def test_a_non_string_credential_is_refused_without_showing_it(tmp_path: Path) -> None:
    with pytest.raises(ProfileConfigError) as caught:
        load(tmp_path, f"{ONE_PROFILE}password = 987654321123\n")
    assert "profile 'dev': password must be a ${ENV_VAR} reference" in str(caught.value)
    assert "987654321123" not in exception_chain_text(caught.value)


@pytest.mark.parametrize(("environ", "state"), [({}, "is not set"), ({"DEV_PW": ""}, "is empty")])
def test_a_credential_variable_unset_or_empty_is_named(tmp_path: Path, environ: dict[str, str], state: str) -> None:
    message = load_error(tmp_path, f'{ONE_PROFILE}password = "${{DEV_PW}}"\n', environ)
    assert "profile 'dev'" in message and "password" in message and f"DEV_PW {state}" in message


@pytest.mark.parametrize("environ", [{}, {"TEAM": ""}])
def test_a_variable_unset_or_empty_in_another_field_is_named(tmp_path: Path, environ: dict[str, str]) -> None:
    message = load_error(tmp_path, f'{ONE_PROFILE}team_id = "team-${{TEAM}}"\n', environ)
    assert "profile 'dev'" in message and "team_id" in message and "TEAM" in message


def test_references_are_substituted_inside_other_strings(tmp_path: Path) -> None:
    text = '[profiles.dev]\ncluster_url = "https://${HOST}:${PORT}/mage"\nteam_id = "${TEAM}"\n'
    profile = load(tmp_path, text, {"HOST": "mage.internal", "PORT": "6789", "TEAM": "acme"}).get(None)
    assert (profile.cluster_url, profile.team_id) == ("https://mage.internal:6789/mage", "acme")


# ------------------------------------------------------------------------------ shape of the file
def test_an_unknown_top_level_key_is_named(tmp_path: Path) -> None:
    message = load_error(tmp_path, f'defualt_profile = "dev"\n{ONE_PROFILE}')
    assert "'defualt_profile'" in message


def test_an_unknown_profile_key_names_the_key_and_profile_and_lists_the_valid_keys(tmp_path: Path) -> None:
    message = load_error(tmp_path, f'{ONE_PROFILE}clusterurl = "x"\n')
    assert "profile 'dev'" in message and "'clusterurl'" in message
    assert "cluster_url, api_key, email, password" in message and "read_only" in message


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('profiles = "dev"\n', "define at least one profile"),
        ("[profiles]\n", "define at least one profile"),
        ('default_profile = "dev"\n', "define at least one profile"),
        ('[profiles]\ndev = "x"\n', "profile 'dev' must be a [profiles.dev] table"),
    ],
)
def test_profiles_must_be_a_non_empty_table_of_tables(tmp_path: Path, text: str, problem: str) -> None:
    assert problem in load_error(tmp_path, text)


@pytest.mark.parametrize("name", ["has space", "x" * 41, "dot.ted"])
def test_a_bad_profile_name_is_named(tmp_path: Path, name: str) -> None:
    message = load_error(tmp_path, f'[profiles."{name}"]\ncluster_url = "http://a"\n')
    assert repr(name) in message


def test_default_profile_must_name_a_defined_profile(tmp_path: Path) -> None:
    message = load_error(tmp_path, f'default_profile = "staging"\n{ONE_PROFILE}[profiles.prod]\n')
    assert "default_profile" in message and "dev, prod" in message


def test_default_profile_is_required_with_two_profiles(tmp_path: Path) -> None:
    message = load_error(tmp_path, f"{ONE_PROFILE}[profiles.prod]\n")
    assert "set default_profile" in message


def test_a_single_profile_needs_no_default_profile(tmp_path: Path) -> None:
    assert load(tmp_path, ONE_PROFILE).default == "dev"


# ------------------------------------------------------------------------------ field types
def test_a_bad_confirm_fallback_is_refused(tmp_path: Path) -> None:
    message = load_error(tmp_path, f'{ONE_PROFILE}confirm_fallback = "maybe"\n')
    assert "profile 'dev'" in message and "confirm_fallback" in message and "token, deny, allow" in message


def test_read_only_must_be_a_boolean(tmp_path: Path) -> None:
    message = load_error(tmp_path, f'{ONE_PROFILE}read_only = "yes"\n')
    assert "profile 'dev'" in message and "read_only" in message
    assert load(tmp_path, f"{ONE_PROFILE}read_only = true\n").get(None).read_only is True


@pytest.mark.parametrize("field", ["cluster_url", "cloud_url"])
def test_urls_must_be_http(tmp_path: Path, field: str) -> None:
    message = load_error(tmp_path, f'[profiles.dev]\n{field} = "ftp://mage.internal"\n')
    assert "profile 'dev'" in message and f"{field} must start with http:// or https://" in message


def test_a_string_field_of_another_type_is_refused(tmp_path: Path) -> None:
    message = load_error(tmp_path, f"{ONE_PROFILE}team_id = 42\n")
    assert "profile 'dev'" in message and "team_id must be a string" in message


def test_a_toml_syntax_error_gives_the_line_and_keeps_no_decode_error(tmp_path: Path) -> None:
    with pytest.raises(ProfileConfigError) as caught:
        load(tmp_path, f'{ONE_PROFILE}password = "{LITERAL_SECRET}\n')
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / 'profiles.toml'}: invalid TOML") and "line 3" in message
    assert caught.value.__cause__ is None and caught.value.__context__ is None
    assert LITERAL_SECRET not in exception_chain_text(caught.value)


# ------------------------------------------------------------------------------ the Profile API
def test_setting_names_the_variable_or_the_file_entry(tmp_path: Path) -> None:
    from_env = load_profiles(settings_for(), {"XDG_CONFIG_HOME": str(tmp_path)}).get(None)
    assert from_env.setting("cluster_url") == "MAGE_CLUSTER_URL"
    assert from_env.setting("api_key") == "MAGE_API_KEY"
    assert from_env.setting("cloud_password") == "MAGE_CLOUD_PASSWORD"
    assert from_env.setting("confirm_fallback") == "MAGE_MCP_CONFIRM_FALLBACK"
    from_file = load(tmp_path, ONE_PROFILE).get(None)
    assert from_file.setting("cloud_api_key") == "cloud_api_key in [profiles.dev]"
    with pytest.raises(ValueError, match="no field"):
        from_file.setting("colour")


def test_missing_cloud_credentials_and_planes(tmp_path: Path) -> None:
    profiles = load(tmp_path, README_EXAMPLE, README_ENVIRON)
    dev, prod = profiles.get("dev"), profiles.get("prod")
    assert dev.missing_cloud_credentials() == [
        "cloud_api_key in [profiles.dev]",
        "cloud_email in [profiles.dev]",
        "cloud_password in [profiles.dev]",
    ]
    assert (dev.planes, prod.missing_cloud_credentials(), prod.planes) == (["cluster"], [], ["cluster", "cloud"])
    from_env = load_profiles(settings_for(mage_cloud_email="c@e.com"), {"XDG_CONFIG_HOME": str(tmp_path)}).get(None)
    assert from_env.missing_cloud_credentials() == ["MAGE_CLOUD_API_KEY", "MAGE_CLOUD_PASSWORD"]


def test_get_gives_the_default_a_named_profile_or_lists_the_names(tmp_path: Path) -> None:
    profiles = load(tmp_path, README_EXAMPLE, README_ENVIRON)
    assert profiles.get(None).name == "dev"
    assert profiles.get("prod").name == "prod"
    with pytest.raises(UnknownProfileError) as caught:
        profiles.get("staging")
    assert str(caught.value) == "Unknown profile 'staging'; profiles: dev, prod (list_profiles describes them)."


def test_profiles_are_frozen(tmp_path: Path) -> None:
    profile: Profile = load(tmp_path, ONE_PROFILE).get(None)
    with pytest.raises(ValueError, match="frozen"):
        profile.read_only = True  # type: ignore[misc]
