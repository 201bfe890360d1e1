"""The quote-time US export legend, from the declaration rules, as both adapters work it out."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

import carriers.customs_lines as lines
from carriers.errors import InvalidRequest
from carriers.models import Parcel, ReturnShipment
from customs.address import Address, Contact, Party
from customs.goods import ReturnedItem
from customs.money import FxTable, Money

US = Party(Contact("Sam"), Address("US", ("1 Main St",), "Austin", "78701", "US-TX"))
DE = Party(Contact("Hub"), Address("DE", ("Hubweg 1",), "Köln", "50667"))
FR = Party(Contact("Jeanne"), Address("FR", ("1 Rue",), "Lyon", "69002"))
CA = Party(Contact("Hub"), Address("CA", ("1 Rue",), "Montréal", "H2X 1Z4", "CA-QC"))
PR = Party(Contact("Hub"), Address("PR", ("1 Calle",), "San Juan", "00901"))
FX = FxTable(base="USD", as_of=dt.date(2026, 11, 2), rates={"EUR": Decimal("0.80")})
ON = dt.date(2026, 11, 20)


def item(value: Money, hs_code: str = "852580", sku: str = "CAM") -> ReturnedItem:
    return ReturnedItem(sku, "Camera", 1, value, 800, "JP", hs_code)


def shipment(customer: Party, destination: Party, *items: ReturnedItem) -> ReturnShipment:
    return ReturnShipment(customer, destination, (Parcel(1000, 100, 100, 100),), items)


def test_up_to_the_threshold_per_code_no_filing_is_needed() -> None:
    usd = Money.of("2500.00", "USD")
    legend = lines.quote_export_legend(shipment(US, DE, item(usd), item(usd, "900211")), None, "acct", ON)
    assert legend == "NOEEI 30.37(a)"


def test_values_under_one_code_add_up_past_the_threshold() -> None:
    over = shipment(US, DE, item(Money.of("1250.00", "USD")), item(Money.of("1250.01", "USD"), sku="CAM-2"))
    with pytest.raises(InvalidRequest) as refused:
        lines.quote_export_legend(over, None, "acct", ON)
    assert refused.value.field == "items"
    assert "852580 totals 2500.01 USD" in refused.value.message


def test_foreign_prices_are_converted_for_the_threshold() -> None:
    # EUR 2,000 at USD 1 = EUR 0.80 is USD 2,500: still exempt; one cent more is not.
    assert lines.quote_export_legend(shipment(US, DE, item(Money.of("2000.00", "EUR"))), FX, "a", ON) == (
        "NOEEI 30.37(a)"
    )
    with pytest.raises(InvalidRequest):
        lines.quote_export_legend(shipment(US, DE, item(Money.of("2000.01", "EUR"))), FX, "a", ON)
    with pytest.raises(InvalidRequest) as refused:
        lines.quote_export_legend(shipment(US, DE, item(Money.of("10.00", "EUR"))), None, "a", ON)
    assert refused.value.field == "items[0].unit_value.currency_code"


def test_canada_has_its_own_exemption_whatever_the_value() -> None:
    big = shipment(US, CA, item(Money.of("90000", "USD")))
    assert lines.quote_export_legend(big, None, "acct", ON) == "NOEEI 30.36"


def test_no_legend_off_us_exports_or_inside_a_customs_territory() -> None:
    big = item(Money.of("90000", "EUR"))
    assert lines.quote_export_legend(shipment(FR, DE, big), None, "acct", ON) is None  # EU internal
    assert lines.quote_export_legend(shipment(FR, US, big), None, "acct", ON) is None  # no FR filing rule
    assert lines.quote_export_legend(shipment(US, PR, item(Money.of("9000", "USD"))), None, "a", ON) is None


def test_the_rule_is_chosen_by_date() -> None:
    before_the_rule = dt.date(2008, 9, 29)
    assert (
        lines.quote_export_legend(shipment(US, DE, item(Money.of("9000", "USD"))), None, "a", before_the_rule)
        is None
    )


def test_lines_come_from_items_without_a_declaration() -> None:
    (line,) = lines.customs_lines(shipment(US, DE, item(Money.of("19.995", "USD"), "8525.80")))
    assert (line.hs_code, line.value, line.net_weight_grams) == ("852580", Money.of("20.00", "USD"), 800)
