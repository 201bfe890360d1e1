from __future__ import annotations

from pathlib import Path

import pytest

from service.config import ConfigError, Settings, reference


def test_defaults_are_the_embedded_ones() -> None:
    settings = Settings.load({})
    assert settings.database_url == "sqlite+aiosqlite:///backhaul.db"
    assert settings.bus_url == "memory://"
    assert settings.grpc_address == "127.0.0.1:50051"
    assert settings.http_address == "127.0.0.1:8080"


def test_environment_overrides_file(tmp_path: Path) -> None:
    config = tmp_path / "backhaul.toml"
    config.write_text('grpc_address = "0.0.0.0:6000"\nlog_level = "debug"\n')
    settings = Settings.load(
        {"BACKHAUL_CONFIG": str(config), "BACKHAUL_GRPC_ADDRESS": "127.0.0.1:7000", "PATH": "/bin"}
    )
    assert settings.grpc_address == "127.0.0.1:7000"
    assert settings.log_level == "DEBUG"


@pytest.mark.parametrize(
    ("variable", "value", "fragment"),
    [
        ("BACKHAUL_GRPC_ADDRESS", "nonsense", "HOST:PORT"),
        ("BACKHAUL_GRPC_ADDRESS", "127.0.0.1:99999", "port"),
        ("BACKHAUL_DATABASE_URL", "mysql://x/y", "sqlite+aiosqlite"),
        ("BACKHAUL_BUS_URL", "kafka://x", "nats://"),
        ("BACKHAUL_QUOTE_BUDGET_SECONDS", "-1", "greater than zero"),
        ("BACKHAUL_QUOTE_TOKEN_SECRET", "short", "32 characters"),
        ("BACKHAUL_HUBS_FILE", "/no/such/file.toml", "no such file"),
        ("BACKHAUL_LOG_FORMAT", "xml", "json"),
        ("BACKHAUL_TRACKING_PAGE_URL", "https://t.example/{customer_email}", "{tracking_token}"),
        ("BACKHAUL_TRACKING_PAGE_URL", "track.example/{tracking_number}", "http(s) URL"),
    ],
)
def test_bad_environment_value_names_the_variable(variable: str, value: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.load({variable: value})
    assert caught.value.setting == variable
    assert fragment in str(caught.value)
    assert variable in str(caught.value)


def test_the_tracking_page_may_name_the_labels_tracking_token() -> None:
    url = "https://returns.example.com/track/{tracking_token}?n={tracking_number}&l={label_id}"
    assert Settings.load({"BACKHAUL_TRACKING_PAGE_URL": url}).tracking_page_url == url


def test_unknown_variable_is_refused() -> None:
    with pytest.raises(ConfigError, match="BACKHAUL_GRCP_ADDRESS: unknown setting"):
        Settings.load({"BACKHAUL_GRCP_ADDRESS": "127.0.0.1:1"})


def test_bad_file_value_names_file_and_field(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('drain_seconds = "soon"\n')
    with pytest.raises(ConfigError) as caught:
        Settings.load({"BACKHAUL_CONFIG": str(config)})
    assert caught.value.source == str(config)
    assert caught.value.setting == "drain_seconds"


def test_unparseable_file_is_reported(tmp_path: Path) -> None:
    config = tmp_path / "broken.toml"
    config.write_text("grpc_address = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        Settings.load({"BACKHAUL_CONFIG": str(config)})


def test_describe_masks_secrets() -> None:
    settings = Settings.load(
        {
            "BACKHAUL_QUOTE_TOKEN_SECRET": "s" * 40,
            "BACKHAUL_DATABASE_URL": "postgresql+asyncpg://app:hunter2@db/backhaul",
        }
    )
    shown = settings.describe()
    assert "s" * 40 not in str(shown)
    assert "hunter2" not in str(shown)
    assert shown["database_url"] == "postgresql+asyncpg://app:***@db/backhaul"


def test_reference_lists_every_setting() -> None:
    names = {row[0] for row in reference()}
    assert {"BACKHAUL_GRPC_ADDRESS", "BACKHAUL_DATABASE_URL", "BACKHAUL_BUS_URL"} <= names


def test_the_client_api_key_variable_is_not_a_server_setting() -> None:
    settings = Settings.load({"BACKHAUL_API_KEY": "bh_client_side", "BACKHAUL_LOG_LEVEL": "debug"})
    assert settings.log_level == "DEBUG"
