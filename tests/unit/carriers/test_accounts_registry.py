from pathlib import Path

import pytest

from carriers.accounts import CarrierAccount, MissingCredential, load_accounts
from carriers.ratecard import RateCardCarrier
from carriers.registry import adapter_factories, build_carriers
from carriers.sandbox import SandboxCarrier
from customs.datafile import DataFileError

ACCOUNTS = """
[[accounts]]
id = "tulip"
adapter = "ratecard"
carrier = "Tulip Parcel"
[accounts.options]
card = "tulip_parcel_nl"
[accounts.policy]
timeout_seconds = 1.5
max_concurrency = 4

[[accounts]]
id = "sandbox-signed"
adapter = "sandbox"
carrier = "Sandbox"
webhook_secret_env = "TEST_SANDBOX_WEBHOOK_SECRET"

[[accounts]]
id = "elsewhere"
adapter = "not-installed"
carrier = "Nobody"

[[accounts]]
id = "off"
adapter = "sandbox"
carrier = "Off"
enabled = false

[[accounts]]
id = "bad-options"
adapter = "sandbox"
carrier = "Bad"
[accounts.options]
latency_ms = "slow"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "carriers.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_entry_points_declare_the_packaged_adapters() -> None:
    assert {"ratecard", "sandbox"} <= set(adapter_factories())


def test_accounts_load_with_policies_and_env_references(tmp_path: Path) -> None:
    accounts = {a.id: a for a in load_accounts(write(tmp_path, ACCOUNTS))}
    assert accounts["tulip"].policy.timeout_seconds == 1.5
    assert accounts["tulip"].policy.max_concurrency == 4
    assert accounts["tulip"].options == {"card": "tulip_parcel_nl"}
    assert accounts["sandbox-signed"].secret_env == {"webhook_secret": "TEST_SANDBOX_WEBHOOK_SECRET"}
    assert not accounts["off"].enabled


def test_missing_credentials_disable_an_account_with_the_reason(tmp_path: Path) -> None:
    carriers = build_carriers(load_accounts(write(tmp_path, ACCOUNTS)), environ={})
    assert isinstance(carriers.adapters["tulip"], RateCardCarrier)
    reasons = {d.account_id: d.reason for d in carriers.disabled}
    assert "TEST_SANDBOX_WEBHOOK_SECRET" in reasons["sandbox-signed"]
    assert "no adapter 'not-installed' is installed" in reasons["elsewhere"]
    assert reasons["off"] == "disabled in configuration"
    assert "options.latency_ms" in reasons["bad-options"]
    assert set(carriers.adapters) == {"tulip"}


def test_credentials_come_from_the_environment(tmp_path: Path) -> None:
    carriers = build_carriers(
        load_accounts(write(tmp_path, ACCOUNTS)), environ={"TEST_SANDBOX_WEBHOOK_SECRET": "s3cret"}
    )
    sandbox = carriers.adapters["sandbox-signed"]
    assert isinstance(sandbox, SandboxCarrier)
    assert "parse_webhook" in sandbox.capabilities.operations


def test_secret_lookup_names_the_variable() -> None:
    account = CarrierAccount("ep", "easypost", "EasyPost", secret_env={"api_key": "EASYPOST_API_KEY"})
    assert account.secret("api_key", {"EASYPOST_API_KEY": "k"}) == "k"
    with pytest.raises(MissingCredential, match="EASYPOST_API_KEY"):
        account.secret("api_key", {"EASYPOST_API_KEY": ""})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[[accounts]]\nid = "a"\nadapter = "sandbox"\ncarrier = "A"\napi_key = "sk_live"\n',
            "accounts[0].api_key: credentials are never stored in files",
        ),
        ('[[accounts]]\nid = "a"\nadapter = "sandbox"\n', "accounts[0].carrier: missing"),
        ('[[accounts]]\nid = "A B"\nadapter = "sandbox"\ncarrier = "A"\n', "accounts[0].id: use lowercase"),
        (
            '[[accounts]]\nid = "a"\nadapter = "sandbox"\ncarrier = "A"\n[accounts.policy]\nretries = 3\n',
            "accounts[0].policy.retries: unknown field",
        ),
        ('[[accounts]]\nid = "a"\nadapter = "sandbox"\ncarrier = "A"\n' * 2, "accounts[1].id: duplicate"),
        (
            '[[accounts]]\nid = "a"\nadapter = "sandbox"\ncarrier = "A"\napi_key_env = "not a name"\n',
            "accounts[0].api_key_env: not an environment variable name",
        ),
        ("accounts = [", "not valid TOML"),
    ],
)
def test_configuration_errors_name_file_and_field(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(DataFileError) as caught:
        load_accounts(path)
    assert str(caught.value).startswith(str(path))
    assert message in str(caught.value)
