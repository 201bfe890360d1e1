"""The shipped data files, and the errors a bad file gets (naming the file and the field)."""

import datetime as dt
from pathlib import Path

import pytest

from carriers.accounts import load_accounts
from carriers.registry import build_carriers
from customs.datafile import DataFileError
from customs.goods import OriginalOrder, ReturnReason
from customs.money import Money
from service.config import default_data_file
from service.quoting.fx import load_fx_table
from service.quoting.hubs import load_hubs
from service.quoting.policy import ReturnCostPayer, load_return_policies

from .sample_requests import HUBS, POLICIES


def test_default_accounts_build_and_report_missing_credentials() -> None:
    carriers = build_carriers(load_accounts(default_data_file("carriers.toml")), environ={})
    assert {
        "tulip-parcel",
        "rhein-paket",
        "thames-parcels",
        "wattle-freight",
        "maple-post",
        "sandbox",
    } <= set(carriers.adapters)
    reasons = {d.account_id: d.reason for d in carriers.disabled}
    assert "EASYPOST_API_KEY" in reasons["easypost"]
    assert "SHIPPO_API_KEY" in reasons["shippo"]


def test_every_hub_accepts_only_configured_accounts() -> None:
    account_ids = {a.id for a in load_accounts(default_data_file("carriers.toml"))}
    for hub in HUBS.hubs:
        assert hub.accepted_carriers <= account_ids, hub.id


@pytest.mark.parametrize(
    ("country", "hub"),
    [
        ("DE", "EU_HUB"),
        ("NL", "EU_HUB"),
        ("CH", "EU_HUB"),
        ("GB", "UK_HUB"),
        ("US", "US_HUB"),
        ("MX", "US_HUB"),
        ("CA", "CA_HUB"),
        ("AU", "AU_HUB"),
        ("JP", "AU_HUB"),
        ("ZA", "EU_HUB"),
    ],
)
def test_routing_by_country_then_region_then_default(country: str, hub: str) -> None:
    assert HUBS.route(country).id == hub


def test_eu_hub_address_is_a_valid_party() -> None:
    hub = HUBS.get("EU_HUB")
    assert hub is not None
    assert hub.party.address.country == "NL"
    assert hub.party.contact.tax_ids == {"eori": "NL000000000"}


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_hub_file_errors_name_the_field(tmp_path: Path) -> None:
    text = (
        default_data_file("hubs.toml")
        .read_text(encoding="utf-8")
        .replace('region_code = "NL"', 'region_code = "XX"')
    )
    with pytest.raises(
        DataFileError, match=r"hubs\.toml: hubs\[0\]\.address\.region_code: unknown country 'XX'"
    ):
        load_hubs(write(tmp_path, "hubs.toml", text))
    text = (
        default_data_file("hubs.toml")
        .read_text(encoding="utf-8")
        .replace('default_hub = "EU_HUB"', 'default_hub = "X"')
    )
    with pytest.raises(DataFileError, match="default_hub: no hub with id 'X'"):
        load_hubs(write(tmp_path, "hubs.toml", text))


def test_policy_in_force_on_the_order_date() -> None:
    old_order = OriginalOrder(order_date=dt.date(2025, 6, 1), delivery_date=dt.date(2025, 6, 3))
    decision = POLICIES.decide("DE", old_order, [], dt.date(2025, 6, 20))
    assert decision.policy_id == "eu-2025"
    assert decision.window_end == dt.date(2025, 6, 17)  # 14 days from delivery
    assert not decision.eligible
    assert "ended on 2025-06-17" in decision.reason


def test_conformity_reasons_extend_the_window_and_make_the_merchant_pay() -> None:
    order = OriginalOrder(order_date=dt.date(2026, 1, 10), delivery_date=dt.date(2026, 1, 12))
    decision = POLICIES.decide("FR", order, [ReturnReason.NOT_AS_DESCRIBED], dt.date(2026, 11, 10))
    assert decision.eligible
    assert decision.window_end == dt.date(2028, 1, 12)  # 730 days
    assert decision.payer is ReturnCostPayer.MERCHANT
    assert decision.customer_fee == Money.of("0", "EUR")


def test_window_from_order_date_without_delivery_date_and_rest_of_world() -> None:
    decision = POLICIES.decide(
        "US", OriginalOrder(order_date=dt.date(2026, 11, 1)), [], dt.date(2026, 11, 10)
    )
    assert decision.window_end == dt.date(2026, 12, 1)
    assert decision.payer is ReturnCostPayer.MERCHANT
    assert "from order" in decision.reason
    decision = POLICIES.decide("ZA", None, [], dt.date(2026, 11, 10))
    assert decision.policy_id == "rest-of-world"
    assert decision.window_end is None
    assert decision.customer_fee == Money.of("14.95", "USD")


def test_policy_file_errors_name_the_field(tmp_path: Path) -> None:
    text = (
        '[[policies]]\nid = "x"\ncountries = ["DE"]\ncurrency = "EUR"\nwindow_days = 30\n'
        'payer = "customer"\neffective_from = 2026-01-01\n'
    )
    with pytest.raises(DataFileError, match=r"policies\[0\]\.customer_fee: required when the customer pays"):
        load_return_policies(write(tmp_path, "p.toml", text))
    with pytest.raises(DataFileError, match=r"policies\[0\]\.payer"):
        load_return_policies(write(tmp_path, "p.toml", text.replace('"customer"', '"nobody"')))


def test_fx_table_loads_with_its_date_and_source(tmp_path: Path) -> None:
    fx = load_fx_table(default_data_file("fx_rates.toml"))
    assert fx.base == "EUR"
    assert fx.source
    # 10 USD -> EUR -> GBP: 10 / 1.16 x 0.88 = 7.586... -> 7.59
    assert fx.convert(Money.of("10", "USD"), "GBP") == Money.of("7.59", "GBP")
    bad = 'base = "EUR"\nas_of = 2026-11-02\nsource = "x"\n[rates]\nUSD = 1.16\n'
    with pytest.raises(DataFileError, match=r"rates\.USD: expected a decimal string"):
        load_fx_table(write(tmp_path, "fx.toml", bad))


def test_the_policy_in_force_follows_the_day_when_asked_again() -> None:
    book = load_return_policies(default_data_file("return_policies.toml"))
    for _ in range(2):  # worked out, then remembered
        assert book.policy_for("DE", dt.date(2025, 12, 31)).id == "eu-2025"
        assert book.policy_for("DE", dt.date(2026, 1, 1)).id == "eu-default"
        assert book.policy_for("FR", dt.date(2026, 1, 1)).id == "eu-default"
