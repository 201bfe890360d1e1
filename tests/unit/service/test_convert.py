from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from google.type import date_pb2, money_pb2
from hypothesis import given
from hypothesis import strategies as st

from backhaul.v1 import common_pb2
from customs.goods import ItemCondition, ReturnReason
from customs.money import Money
from service.errors import InvalidArgument
from service.grpc import convert
from service.grpc.convert import Violations


def test_money_from_units_and_nanos() -> None:
    violations = Violations()
    money = convert.money_from_proto(
        money_pb2.Money(currency_code="EUR", units=12, nanos=500_000_000), "x", violations
    )
    assert money == Money(Decimal("12.5"), "EUR")
    assert violations.items == []


def test_negative_money_keeps_sign_in_both_parts() -> None:
    violations = Violations()
    money = convert.money_from_proto(
        money_pb2.Money(currency_code="USD", units=-1, nanos=-750_000_000), "x", violations
    )
    assert money == Money(Decimal("-1.75"), "USD")


@pytest.mark.parametrize(
    ("message", "field"),
    [
        (money_pb2.Money(currency_code="EUR", units=1, nanos=-5), "price.nanos"),
        (money_pb2.Money(currency_code="ABC", units=1), "price.currency_code"),
        (money_pb2.Money(currency_code="", units=1), "price.currency_code"),
    ],
)
def test_bad_money_is_reported_with_its_path(message: money_pb2.Money, field: str) -> None:
    violations = Violations()
    assert convert.money_from_proto(message, "price", violations) is None
    assert [v.field for v in violations.items] == [field]
    with pytest.raises(InvalidArgument):
        violations.raise_if_any()


@pytest.mark.parametrize(
    ("amount", "currency", "parts"),
    [
        ("13.6", "EUR", (13, 600_000_000)),
        ("13.60", "EUR", (13, 600_000_000)),  # the same amount: the same parts
        ("0.125", "EUR", (0, 130_000_000)),  # half a cent rounds up
        ("-1.25", "USD", (-1, -250_000_000)),  # both parts carry the sign
        ("1073.925", "JPY", (1074, 0)),  # no minor units
        ("0.1235", "KWD", (0, 124_000_000)),  # three
    ],
)
def test_money_is_written_rounded_to_its_currency(amount: str, currency: str, parts: tuple[int, int]) -> None:
    for _ in range(2):  # once worked out, once remembered
        message = convert.money_to_proto(Money.of(amount, currency))
        assert (message.currency_code, message.units, message.nanos) == (currency, *parts)


@given(
    cents=st.integers(min_value=-(10**12), max_value=10**12), currency=st.sampled_from(["EUR", "USD", "GBP"])
)
def test_money_round_trips_through_proto(cents: int, currency: str) -> None:
    money = Money(Decimal(cents) / 100, currency)
    violations = Violations()
    assert convert.money_from_proto(convert.money_to_proto(money), "m", violations) == money


def test_yen_has_no_minor_units_on_the_wire() -> None:
    assert convert.money_to_proto(Money(Decimal("1000.6"), "JPY")) == money_pb2.Money(
        currency_code="JPY", units=1001
    )


def test_dates() -> None:
    violations = Violations()
    assert convert.date_from_proto(date_pb2.Date(), "d", violations) is None
    assert convert.date_from_proto(date_pb2.Date(year=2026, month=2, day=28), "d", violations) == dt.date(
        2026, 2, 28
    )
    assert (
        convert.date_from_proto(date_pb2.Date(year=2026, month=2, day=30), "order.date", violations) is None
    )
    assert [v.field for v in violations.items] == ["order.date"]
    assert convert.date_to_proto(dt.date(2027, 1, 5)) == date_pb2.Date(year=2027, month=1, day=5)


def test_party_keeps_tax_ids_by_scheme_and_round_trips() -> None:
    message = common_pb2.Party(
        contact=common_pb2.Contact(
            name=" Erika Mustermann ",
            tax_ids=[common_pb2.TaxId(scheme=common_pb2.TAX_ID_SCHEME_EORI, value="DE123456789012345")],
        ),
    )
    message.address.region_code = "DE"
    message.address.address_lines.append("Hauptstr. 1")
    message.address.locality = "Berlin"
    message.address.postal_code = "10115"
    violations = Violations()
    party = convert.party_from_proto(message, "customer", violations)
    assert party.contact.name == "Erika Mustermann"
    assert party.contact.tax_ids == {"EORI": "DE123456789012345"}
    assert party.address.validated().country == "DE"
    assert convert.party_from_proto(convert.party_to_proto(party), "c", violations) == party
    assert violations.items == []


def test_unspecified_tax_scheme_is_a_violation() -> None:
    message = common_pb2.Party(contact=common_pb2.Contact(tax_ids=[common_pb2.TaxId(value="x")]))
    violations = Violations()
    convert.party_from_proto(message, "customer", violations)
    assert [v.field for v in violations.items] == ["customer.contact.tax_ids[0].scheme"]


@pytest.mark.parametrize("condition", list(ItemCondition))
def test_item_condition_round_trip(condition: ItemCondition) -> None:
    assert convert.item_condition_from_proto(convert.item_condition_to_proto(condition)) is condition


@pytest.mark.parametrize("reason", list(ReturnReason))
def test_return_reason_round_trip(reason: ReturnReason) -> None:
    assert convert.return_reason_from_proto(convert.return_reason_to_proto(reason)) is reason


def test_item_without_unit_value_is_reported() -> None:
    violations = Violations()
    assert convert.item_from_proto(common_pb2.ReturnedItem(sku="A"), "items[2]", violations) is None
    assert [v.field for v in violations.items] == ["items[2].unit_value"]
