import pytest

from carriers.errors import InvalidRequest, NotFound, UnsupportedLane, UnsupportedOperation
from carriers.models import Handover, LabelFormat, LabelReference, Parcel, PurchaseRequest, VoidStatus
from carriers.port import Operation, TrackingUpdates
from carriers.ratecard import RateCardCarrier
from carriers.ratecard.card import packaged_card
from carriers.ratecard.s10 import InMemorySerialAllocator, is_valid_s10
from carriers.tracking import TrackingStatus
from customs.money import Money

from .sample_shipments import return_shipment


def tulip() -> RateCardCarrier:
    return RateCardCarrier("tulip", packaged_card("tulip_parcel_nl"), InMemorySerialAllocator())


def test_capabilities_come_from_the_card() -> None:
    capabilities = tulip().capabilities
    assert Operation.PARSE_WEBHOOK not in capabilities.operations
    assert capabilities.tracking_updates == frozenset({TrackingUpdates.PARTNER_PUSH})
    assert capabilities.label_formats == frozenset({LabelFormat.PDF, LabelFormat.ZPL})
    assert capabilities.serves("DE", "NL", "EU_HUB")
    assert not capabilities.serves("GB", "NL", "EU_HUB")
    assert not capabilities.serves("DE", "GB", "UK_HUB")


async def test_unserved_lane_is_refused() -> None:
    with pytest.raises(UnsupportedLane):
        await tulip().quote(return_shipment("GB", "SW1A 1AA", hub_id="UK_HUB"))


async def test_handover_selects_the_services() -> None:
    dropped = await tulip().quote(return_shipment("NL", "3511 AB", handover=Handover.DROP_OFF))
    collected = await tulip().quote(return_shipment("NL", "3511 AB", handover=Handover.PICKUP))
    assert [r.service_code for r in dropped] == ["retour_standard"]
    assert [r.service_code for r in collected] == ["retour_ophalen"]
    # Same transport price, plus the 3.25 pickup fee.
    assert collected[0].price - dropped[0].price == Money.of("3.25", "EUR")
    assert collected[0].handover is Handover.PICKUP


async def test_one_call_answers_every_handover_the_card_offers() -> None:
    rates = await tulip().quote(return_shipment("NL", "3511 AB"))
    assert [(r.service_code, r.handover) for r in rates] == [
        ("retour_standard", Handover.DROP_OFF),
        ("retour_ophalen", Handover.PICKUP),
    ]


async def test_purchase_issues_consecutive_s10_numbers_and_no_document() -> None:
    carrier = tulip()
    shipment = return_shipment("DE", "10115", Parcel(2000, 300, 200, 100))
    request = PurchaseRequest(shipment, "retour_standard", "key-1", label_format=LabelFormat.ZPL)
    first = await carrier.purchase(request)
    second = await carrier.purchase(request)
    # The card's series starts at serial 10000000: S = 1 x 8 = 8, C = 11 - 8 = 3.
    assert first.tracking_number == "CT100000003NL"
    assert is_valid_s10(second.tracking_number)
    assert second.tracking_number[2:10] == "10000001"
    assert first.label_document == b""
    assert first.label_format is LabelFormat.ZPL
    assert first.price == (await carrier.quote(shipment))[0].price


async def test_purchase_refuses_unknown_service_png_and_price_rises() -> None:
    carrier = tulip()
    shipment = return_shipment("DE", "10115")
    with pytest.raises(InvalidRequest) as caught:
        await carrier.purchase(PurchaseRequest(shipment, "overnight", "k"))
    assert caught.value.field == "service_code"
    with pytest.raises(InvalidRequest) as caught:
        await carrier.purchase(
            PurchaseRequest(shipment, "retour_standard", "k", label_format=LabelFormat.PNG)
        )
    assert caught.value.field == "label_format"
    cheap = Money.of("0.01", "EUR")
    with pytest.raises(InvalidRequest) as caught:
        await carrier.purchase(PurchaseRequest(shipment, "retour_standard", "k", expected_price=cheap))
    assert caught.value.field == "price"


async def test_void_and_track_know_their_own_numbers_only() -> None:
    carrier = tulip()
    label = await carrier.purchase(PurchaseRequest(return_shipment("NL", "3511 AB"), "retour_standard", "k"))
    assert (await carrier.void(label.reference)).status is VoidStatus.VOIDED
    snapshot = await carrier.track(label.tracking_number)
    assert snapshot.status is TrackingStatus.UNKNOWN
    assert snapshot.events == ()
    with pytest.raises(NotFound):
        await carrier.void(LabelReference("RR473124829GB"))
    with pytest.raises(UnsupportedOperation):
        await carrier.parse_webhook({}, b"{}")
