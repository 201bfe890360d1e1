"""Rate-card arithmetic against prices computed by hand (the comments show the working)."""

import copy
import datetime as dt
from decimal import Decimal

import pytest

from carriers.errors import UnsupportedLane
from carriers.models import Handover, Parcel
from carriers.ratecard import RateCardCarrier
from carriers.ratecard.card import RateCard, packaged_card, packaged_card_ids, parse_card
from carriers.ratecard.pricing import chargeable_grams, volumetric_grams
from customs.datafile import DataFileError, DataTable
from customs.money import Money, total

from .sample_shipments import return_shipment

TEST_CARD = {
    "card": {
        "id": "test_card",
        "carrier": "Test Post",
        "currency": "EUR",
        "effective_from": dt.date(2026, 1, 1),
        "source": "unit test",
        "volumetric_divisor": 5000,
        "weight_increment_grams": 500,
        "max_weight_grams": 30000,
        "fuel_surcharge_percent": "7.5",
    },
    "s10": {"service_indicator": "CZ", "country": "DE"},
    "lanes": [{"origin_countries": ["DE", "AT"], "hub_ids": ["EU_HUB"]}],
    "zones": [{"id": "home", "countries": ["DE"]}, {"id": "away", "countries": ["AT"]}],
    "remote_areas": [{"name": "Sylt", "country": "DE", "postal_prefixes": ["25980"], "surcharge": "2.50"}],
    "services": [
        {
            "code": "std",
            "name": "Standard",
            "handovers": ["drop_off", "pickup"],
            "pickup_fee": "3.00",
            "tariffs": [
                {
                    "zone": "home",
                    "transit_days": 2,
                    "breaks": [
                        {"up_to_grams": 1000, "price": "5.00"},
                        {"up_to_grams": 5000, "price": "8.00"},
                    ],
                    "per_kg_beyond": "1.10",
                },
                {"zone": "away", "transit_days": 4, "breaks": [{"up_to_grams": 2000, "price": "10.00"}]},
            ],
        }
    ],
}


def card(**overrides: object) -> RateCard:
    data = {**TEST_CARD, "card": {**TEST_CARD["card"], **overrides}}  # type: ignore[dict-item]
    return parse_card(DataTable(data, "test_card.toml"))


async def price(
    rate_card: RateCard,
    postal_code: str,
    *parcels: Parcel,
    country: str = "DE",
    handover: Handover = Handover.DROP_OFF,
) -> Money:
    carrier = RateCardCarrier("test", rate_card)
    rates = await carrier.quote(return_shipment(country, postal_code, *parcels, handover=handover))
    assert len(rates) == 1
    return rates[0].price


def test_volumetric_weight_is_cubic_centimetres_over_divisor_rounded_up() -> None:
    # 100 x 100 x 100 mm = 1000 cm³; / 5000 = 0.2 kg = 200 g.
    assert volumetric_grams(Parcel(1, 100, 100, 100), 5000) == 200
    # 101 x 99 x 100 mm = 999.9 cm³ -> 199.98 g -> 200 g.
    assert volumetric_grams(Parcel(1, 101, 99, 100), 5000) == 200


def test_chargeable_weight_is_the_heavier_rounded_up_to_the_increment() -> None:
    assert chargeable_grams(Parcel(800, 100, 100, 100), 5000, 500) == 1000  # actual 800 wins -> 1000
    assert chargeable_grams(Parcel(1200, 400, 300, 200), 5000, 500) == 5000  # volumetric 4800 wins -> 5000
    assert chargeable_grams(Parcel(1000, 100, 100, 100), 5000, 500) == 1000  # exactly on the increment


async def test_first_break_plus_fuel_rounded_half_up() -> None:
    # 800 g -> 1000 g -> 5.00; fuel 7.5 % = 0.375; 5.375 -> 5.38.
    assert await price(card(), "10115", Parcel(800, 100, 100, 100)) == Money.of("5.38", "EUR")


async def test_volumetric_weight_selects_the_break() -> None:
    # 400 x 300 x 200 mm -> 4800 g volumetric -> 5000 g -> 8.00; fuel 0.60; 8.60.
    assert await price(card(), "10115", Parcel(1200, 400, 300, 200)) == Money.of("8.60", "EUR")


async def test_per_started_kilogram_beyond_the_last_break() -> None:
    # 7300 g -> 7500 g; 2500 g over 5000 g = 3 started kg x 1.10 = 3.30; transport 11.30;
    # fuel 7.5 % = 0.8475; 12.1475 -> 12.15.
    assert await price(card(), "10115", Parcel(7300, 100, 100, 100)) == Money.of("12.15", "EUR")


async def test_remote_area_surcharge_by_postal_prefix() -> None:
    # 5.375 + 2.50 = 7.875 -> 7.88.
    assert await price(card(), "25980", Parcel(800, 100, 100, 100)) == Money.of("7.88", "EUR")


async def test_pickup_fee_once_per_shipment_and_parcels_rounded_each() -> None:
    parcels = (Parcel(800, 100, 100, 100), Parcel(1200, 400, 300, 200))
    # 5.38 + 8.60 = 13.98 dropped off; + 3.00 when collected.
    assert await price(card(), "10115", *parcels) == Money.of("13.98", "EUR")
    assert await price(card(), "10115", *parcels, handover=Handover.PICKUP) == Money.of("16.98", "EUR")
    # Asked without a handover, one call prices the service both ways, drop-off first.
    both = await RateCardCarrier("test", card()).quote(return_shipment("DE", "10115", *parcels))
    assert [(r.service_code, r.handover, r.price) for r in both] == [
        ("std", Handover.DROP_OFF, Money.of("13.98", "EUR")),
        ("std", Handover.PICKUP, Money.of("16.98", "EUR")),
    ]


async def test_rounding_follows_the_card_currency() -> None:
    data = {**TEST_CARD, "card": {**TEST_CARD["card"], "currency": "JPY"}}  # type: ignore[dict-item]
    data["services"] = [
        {
            **TEST_CARD["services"][0],  # type: ignore[index]
            "tariffs": [
                {"zone": "home", "transit_days": 2, "breaks": [{"up_to_grams": 1000, "price": "999"}]}
            ],
        }
    ]
    jpy = parse_card(DataTable(data, "jpy.toml"))
    # 999 x 1.075 = 1073.925 -> 1074 (JPY has no minor unit).
    assert await price(jpy, "10115", Parcel(800, 100, 100, 100)) == Money.of("1074", "JPY")


async def test_heavier_than_the_last_break_without_per_kg_is_not_offered() -> None:
    with pytest.raises(UnsupportedLane, match="last weight break"):
        await price(card(), "1010", Parcel(2500, 100, 100, 100), country="AT")


async def test_over_the_maximum_weight_is_not_offered() -> None:
    with pytest.raises(UnsupportedLane, match="limit"):
        await price(card(), "10115", Parcel(30001, 100, 100, 100))


@pytest.mark.parametrize(
    ("card_id", "country", "postal_code", "hub_id", "parcel", "service", "expected"),
    [
        # 300x200x100 mm / 6000 = 1000 g; 1500 g -> 1500 -> 4.95; fuel 6.5 % 0.32175; 5.27175 -> 5.27.
        (
            "tulip_parcel_nl",
            "NL",
            "3511 AB",
            "EU_HUB",
            Parcel(1500, 300, 200, 100),
            "retour_standard",
            "5.27",
        ),
        # Texel (1791): + 3.50 island surcharge -> 8.77175 -> 8.77.
        (
            "tulip_parcel_nl",
            "NL",
            "1791 AB",
            "EU_HUB",
            Parcel(1500, 300, 200, 100),
            "retour_standard",
            "8.77",
        ),
        # 3200 g -> 3500 g (500 g steps) -> 6.99; fuel 4.5 % 0.31455; 7.30455 -> 7.30.
        ("rhein_paket_de", "DE", "10115", "EU_HUB", Parcel(3200, 300, 200, 100), "paket_retoure", "7.30"),
        # Sylt (25980): + 4.90 -> 12.20455 -> 12.20.
        ("rhein_paket_de", "DE", "25980", "EU_HUB", Parcel(3200, 300, 200, 100), "paket_retoure", "12.20"),
        # Shetland: Highlands zone, 2200 g -> 8.99; fuel 5 % 0.4495; + 6.00 offshore; 15.4395 -> 15.44.
        (
            "thames_parcels_gb",
            "GB",
            "ZE1 0AA",
            "UK_HUB",
            Parcel(2200, 300, 200, 100),
            "drop_off_48",
            "15.44",
        ),
        # Sydney: 400x300x300 / 4000 = 9000 g; 4 kg over 5000 g x 1.10 = 4.40; 15.50 + 4.40 = 19.90;
        # fuel 8.1 % 1.6119; 21.5119 -> 21.51.
        (
            "wattle_freight_au",
            "AU",
            "2000",
            "AU_HUB",
            Parcel(2000, 400, 300, 300),
            "parcel_return",
            "21.51",
        ),
        # Rural Ontario K0A: central zone, 1000 g -> 12.40; fuel 18.5 % 2.294; + 4.25 rural; 18.944 -> 18.94.
        (
            "maple_post_ca",
            "CA",
            "K0A 1A0",
            "CA_HUB",
            Parcel(1000, 200, 150, 100),
            "regular_return",
            "18.94",
        ),
    ],
)
async def test_packaged_cards_against_hand_computed_prices(
    card_id: str, country: str, postal_code: str, hub_id: str, parcel: Parcel, service: str, expected: str
) -> None:
    rate_card = packaged_card(card_id)
    rates = await RateCardCarrier("acct", rate_card).quote(
        return_shipment(country, postal_code, parcel, hub_id=hub_id)
    )
    rate = next(r for r in rates if r.service_code == service)
    assert rate.price == Money.of(expected, rate_card.currency)
    # Each line is rounded on its own, so the itemised components add up to the price exactly.
    assert total((c.amount for c in rate.components), rate_card.currency) == rate.price


def test_every_packaged_card_loads_and_is_marked_as_example() -> None:
    ids = packaged_card_ids()
    assert len(ids) >= 5
    currencies = set()
    for card_id in ids:
        rate_card = packaged_card(card_id)
        assert rate_card.example
        assert "illustrative" in rate_card.note.lower()
        currencies.add(rate_card.currency)
    assert {"EUR", "GBP", "AUD", "CAD"} <= currencies


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("zones", 1, "countries"), ["XX"], "test_card.toml: zones[1].countries: unknown country 'XX'"),
        (("card", "currency"), "EURO", "test_card.toml: card.currency: unknown currency"),
        (("card", "fuel_surcharge_percent"), 7.5, "card.fuel_surcharge_percent: expected a decimal string"),
        (("services", 0, "tariffs", 0, "zone"), "mars", "services[0].tariffs[0].zone: unknown zone 'mars'"),
        (
            ("services", 0, "tariffs", 0, "breaks", 1, "up_to_grams"),
            500,
            "breaks[1].up_to_grams: weight breaks must ascend",
        ),
        (("card", "fuel_surcharg_percent"), "1", "card.fuel_surcharg_percent: unknown field"),
    ],
)
def test_card_errors_name_the_file_and_the_field(
    path: tuple[object, ...], value: object, message: str
) -> None:
    data = copy.deepcopy(TEST_CARD)
    target: object = data
    for key in path[:-1]:
        target = target[key]  # type: ignore[index]
    target[path[-1]] = value  # type: ignore[index]
    with pytest.raises(DataFileError) as caught:
        parse_card(DataTable(data, "test_card.toml"))
    assert message in str(caught.value)


def test_overlapping_zones_are_refused() -> None:
    data = {**TEST_CARD, "zones": [{"id": "a", "countries": ["DE"]}, {"id": "b", "countries": ["DE", "AT"]}]}
    with pytest.raises(DataFileError, match=r"zones\[1\]: DE is already in another zone"):
        parse_card(DataTable(data, "test_card.toml"))


def test_decimal_amounts_stay_exact() -> None:
    assert card().fuel_surcharge_percent == Decimal("7.5")
