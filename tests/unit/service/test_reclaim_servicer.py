"""CustomsService.CalculateDutyReclaim and ListReclaimClaims: the worked examples of the research note through
the RPC, the mapping of every part of the answer, request order, validation paths; and the pure parts of the
claims (a label's reclaim cases, tracking events as export evidence).

The servicer is called directly with the calling merchant bound, as the RPC pipeline would. Request builders
here are shared with tests/e2e/test_reclaim_api.py.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from google.type import date_pb2, money_pb2

from backhaul.v1 import common_pb2, customs_pb2
from carriers.models import Parcel, ReturnShipment
from carriers.tracking import TrackingEvent, TrackingLocation, TrackingStatus
from customs.address import Address, Contact, Party
from customs.goods import ItemCondition, OriginalOrder, ReturnedItem, ReturnReason
from customs.money import Money
from customs.reclaim import ExportMilestone, ImporterType, WarningCode
from service.auth import Principal, bind_principal, reset_principal
from service.bus.memory import InProcessBus
from service.config import default_data_file
from service.customs_declarations import CustomsDeclarations
from service.documents.customs_documents import CERTIFICATION
from service.errors import InvalidArgument, Unimplemented
from service.grpc.customs_servicer import CustomsServicer
from service.quoting.fx import load_fx_table
from service.quoting.hubs import load_hubs
from service.reclaim import LabelReturn, Reclaim, load_reclaim_rules, open_reclaim
from service.reclaim.export_evidence import export_evidence_of
from service.reclaim.label_estimates import label_cases
from service.storage.engine import create_database
from service.tracking.milestones import ReturnMilestone
from service.tracking.model import EventSource, LoggedEvent

TODAY = dt.date(2026, 11, 26)
FX = load_fx_table(default_data_file("fx_rates.toml"))
DECLARATIONS = CustomsDeclarations(
    fx=FX,
    hubs=load_hubs(default_data_file("hubs.toml")),
    carrier_account_ids=[],
    certification_statement=CERTIFICATION,
)
C = customs_pb2
COMPONENTS = {
    "duty": C.CHARGE_COMPONENT_DUTY,
    "ad_cvd": C.CHARGE_COMPONENT_AD_CVD,
    "vat": C.CHARGE_COMPONENT_VAT,
    "mpf": C.CHARGE_COMPONENT_MPF,
    "hmt": C.CHARGE_COMPONENT_HMT,
    "other": C.CHARGE_COMPONENT_OTHER,
}


# Request builders (also used by tests/e2e/test_reclaim_api.py) ------------------------------------------


def money(amount: str, currency: str) -> money_pb2.Money:
    units, _, fraction = amount.partition(".")
    return money_pb2.Money(
        currency_code=currency, units=int(units), nanos=int((fraction + "000000000")[:9]) if fraction else 0
    )


def day(text: str) -> date_pb2.Date:
    value = dt.date.fromisoformat(text)
    return date_pb2.Date(year=value.year, month=value.month, day=value.day)


def paid(currency: str, unknown: tuple[str, ...] = (), **amounts: str) -> list[customs_pb2.ChargeAmount]:
    """Every component given (the named ones with their amount, the others zero) except the `unknown` ones."""
    return [
        C.ChargeAmount(component=component, amount=money(amounts.get(name, "0"), currency))
        for name, component in COMPONENTS.items()
        if name not in unknown
    ]


def as_decimal(message: money_pb2.Money) -> Decimal:
    return Decimal(message.units) + Decimal(message.nanos) / Decimal(1_000_000_000)


def example_1_request() -> customs_pb2.CalculateDutyReclaimRequest:
    """19 CFR 191.51(b)(1): $1,000 of eligible duties, a defective import exported with a waybill."""
    return C.CalculateDutyReclaimRequest(
        import_country="US",
        import_date=day("2026-01-10"),
        import_currency="USD",
        import_entry_number="ABC-1234567-8",
        importer_type=C.IMPORTER_TYPE_BUSINESS,
        lines=[
            C.ReclaimEntryLine(
                line_id="1",
                sku="SKU-1",
                hs_code="6109.10.00",
                imported_quantity=1,
                returned_quantity=1,
                customs_value=money("100", "USD"),
                paid=paid("USD", duty="1000.00"),
            )
        ],
        return_reason=common_pb2.RETURN_REASON_DEFECTIVE,
        condition=common_pb2.ITEM_CONDITION_NEW_OPENED,
        export_date=day("2026-03-01"),
        proof_of_export=C.ProofOfExport(
            kind=C.PROOF_OF_EXPORT_KIND_WAYBILL, reference="WB-1", date=day("2026-03-01")
        ),
    )


MPF_LINES = {"1": ("50000", 5000), "2": ("90000", 6000), "3": ("200000", 10000)}


def example_2_request(
    returned: dict[str, int], order: str = "312"
) -> customs_pb2.CalculateDutyReclaimRequest:
    """19 CFR 190.51(b)(2) Example 1: MPF $485 for the entry, apportioned by value; lines out of order."""
    return C.CalculateDutyReclaimRequest(
        import_country="US",
        import_date=day("2026-01-10"),
        import_currency="USD",
        import_entry_number="ABC-1234567-8",
        importer_type=C.IMPORTER_TYPE_BUSINESS,
        lines=[
            C.ReclaimEntryLine(
                line_id=line_id,
                sku=f"SKU-{line_id}",
                hs_code="6109.10.00",
                imported_quantity=MPF_LINES[line_id][1],
                returned_quantity=returned.get(line_id, 0),
                customs_value=money(MPF_LINES[line_id][0], "USD"),
                paid=paid("USD", unknown=("mpf",)),
            )
            for line_id in order
        ],
        entry_charges=[C.ChargeAmount(component=C.CHARGE_COMPONENT_MPF, amount=money("485", "USD"))],
        return_reason=common_pb2.RETURN_REASON_CHANGED_MIND,
        condition=common_pb2.ITEM_CONDITION_NEW_OPENED,
        export_date=day("2026-03-01"),
        proof_of_export=C.ProofOfExport(
            kind=C.PROOF_OF_EXPORT_KIND_WAYBILL, reference="WB-1", date=day("2026-03-01")
        ),
    )


def eu_request() -> customs_pb2.CalculateDutyReclaimRequest:
    """A defective shirt imported into Germany under IOSS, leaving for the UK hub; display in GBP."""
    return C.CalculateDutyReclaimRequest(
        import_country="DE",
        import_date=day("2026-03-01"),
        import_currency="EUR",
        import_entry_number="26DE123456789012A1",
        importer_type=C.IMPORTER_TYPE_CONSUMER,
        tax_collected_at_sale=True,
        lines=[
            C.ReclaimEntryLine(
                line_id="shirt",
                sku="SHIRT-1",
                hs_code="6109100010",
                imported_quantity=1,
                returned_quantity=1,
                customs_value=money("120.00", "EUR"),
                paid=paid("EUR", duty="14.40", vat="22.80"),
            )
        ],
        return_reason=common_pb2.RETURN_REASON_DEFECTIVE,
        condition=common_pb2.ITEM_CONDITION_NEW_OPENED,
        export_date=day("2026-04-01"),
        display_currency="GBP",
    )


# Fixtures -----------------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def merchant() -> Iterator[None]:
    token = bind_principal(Principal("merchant-a"))
    yield
    reset_principal(token)


@pytest.fixture
async def reclaim(tmp_path: Path) -> AsyncIterator[Reclaim]:
    # The calculation never touches the database; the handle is only there for the claims.
    database = create_database(f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}")
    handle = await open_reclaim(database, InProcessBus(), load_reclaim_rules(), FX, start_follower=False)
    yield handle
    await handle.close()
    await database.dispose()


@pytest.fixture
def servicer(reclaim: Reclaim) -> CustomsServicer:
    return CustomsServicer(DECLARATIONS, reclaim=reclaim, today=lambda: TODAY)


def violations(error: InvalidArgument) -> dict[str, str]:
    return {v.field: v.description for v in error.violations}


async def refused(
    servicer: CustomsServicer, request: customs_pb2.CalculateDutyReclaimRequest
) -> dict[str, str]:
    with pytest.raises(InvalidArgument) as caught:
        await servicer.CalculateDutyReclaim(request, None)
    return violations(caught.value)


# Worked examples ----------------------------------------------------------------------------------------


async def test_example_1_drawback_is_99_percent_of_the_duty(servicer: CustomsServicer) -> None:
    response = await servicer.CalculateDutyReclaim(example_1_request(), None)
    assert as_decimal(response.total_refundable_amount) == Decimal("990.00")
    assert response.total_refundable_amount.currency_code == "USD"
    assert len(response.best_regime_ids) == 1
    assert response.best_regime_ids[0] in {"us-1313c-rejected", "us-1313j1-unused"}
    assert response.best_regime_id == response.best_regime_ids[0]
    (lost,) = response.not_refundable
    assert (lost.line_id, lost.component) == ("1", C.CHARGE_COMPONENT_DUTY)
    assert as_decimal(lost.amount) == Decimal("10.00")
    assert "99 %" in lost.reason
    for regime in response.regimes:  # never above 99 %
        assert as_decimal(regime.refundable_total) <= Decimal("990.00")
    (line,) = response.lines
    assert [(item.component, as_decimal(item.amount)) for item in line.refundable] == [
        (C.CHARGE_COMPONENT_DUTY, Decimal("990.00"))
    ]
    assert not response.estimate
    assert response.market == "US"
    assert response.filing_deadline == day("2031-01-10")  # 5 years from import
    assert {form.code for form in response.forms} >= {"CBP 7553"}
    best = next(r for r in response.regimes if r.regime.id == response.best_regime_id)
    assert best.eligible
    assert best.in_effect
    assert best.checks
    assert all(check.passed for check in best.checks)


async def test_example_2_mpf_is_apportioned_by_value_and_lines_come_back_in_request_order(
    servicer: CustomsServicer,
) -> None:
    response = await servicer.CalculateDutyReclaim(
        example_2_request({"1": 5000, "2": 6000, "3": 10000}), None
    )
    assert [line.line_id for line in response.lines] == ["3", "1", "2"]
    unused = next(r for r in response.regimes if r.regime.id == "us-1313j1-unused")
    assert [outcome.line_id for outcome in unused.lines] == ["3", "1", "2"]
    refunds = {outcome.line_id: outcome.refunds[0] for outcome in unused.lines}
    assert {line_id: r.line_paid for line_id, r in refunds.items()} == {
        "1": "71.3435",
        "2": "128.3795",
        "3": "285.2770",
    }
    assert {line_id: r.line_eligible for line_id, r in refunds.items()} == {
        "1": "70.6301",
        "2": "127.0957",
        "3": "282.4242",
    }
    assert all(r.component == C.CHARGE_COMPONENT_MPF and r.percent == "99" for r in refunds.values())
    assert [line.sku for line in response.lines] == ["SKU-3", "SKU-1", "SKU-2"]


async def test_example_2_per_unit_drawback_for_1000_of_5000_units(servicer: CustomsServicer) -> None:
    response = await servicer.CalculateDutyReclaim(example_2_request({"1": 1000}), None)
    unused = next(r for r in response.regimes if r.regime.id == "us-1313j1-unused")
    (outcome,) = unused.lines
    (refund,) = outcome.refunds
    assert refund.unit_eligible == "0.0141"
    assert as_decimal(refund.refundable) == Decimal("14.10")
    assert as_decimal(response.total_refundable_amount) == Decimal("14.10")
    # Lines not returned are still answered, in their place, with nothing to refund.
    assert [(line.line_id, line.returned_quantity) for line in response.lines] == [
        ("3", 0),
        ("1", 1000),
        ("2", 0),
    ]
    assert as_decimal(response.lines[0].refundable_total) == 0
    assert not response.lines[0].refundable


async def test_example_3_eu_flat_duty_is_estimated_per_distinct_subheading(servicer: CustomsServicer) -> None:
    request = C.CalculateDutyReclaimRequest(
        import_country="FR",
        import_date=day("2026-07-15"),
        import_currency="EUR",
        import_entry_number="26FR0001",
        tax_collected_at_sale=True,
        lines=[
            C.ReclaimEntryLine(
                line_id="silk",
                sku="SILK",
                hs_code="6206.10.00",
                imported_quantity=1,
                returned_quantity=1,
                customs_value=money("60", "EUR"),
            ),
            C.ReclaimEntryLine(
                line_id="wool",
                sku="WOOL",
                hs_code="6206.20.00",
                imported_quantity=2,
                returned_quantity=2,
                customs_value=money("60", "EUR"),
            ),
        ],
        return_reason=common_pb2.RETURN_REASON_DEFECTIVE,
        condition=common_pb2.ITEM_CONDITION_NEW_OPENED,
        export_date=day("2026-08-01"),
    )
    response = await servicer.CalculateDutyReclaim(request, None)
    duty = sum(
        (
            as_decimal(item.amount)
            for line in response.lines
            for item in line.paid
            if item.component == C.CHARGE_COMPONENT_DUTY
        ),
        Decimal(0),
    )
    assert duty == Decimal("6.00")
    assert response.estimate
    assert all(
        line.estimate and C.CHARGE_COMPONENT_DUTY in line.estimated_components for line in response.lines
    )
    assert all(line.estimate_sources for line in response.lines)
    assert response.de_minimis.duty == "flat"
    assert as_decimal(response.de_minimis.flat_duty) == Decimal("6.00")
    assert any(w.code == WarningCode.ESTIMATE_USED.value for w in response.warnings)


@pytest.mark.parametrize(
    ("value", "channel", "shipped_from", "duty", "tax_due"),
    [
        ("40.00", C.IMPORT_CHANNEL_COURIER, "US", "exempt", False),
        ("40.01", C.IMPORT_CHANNEL_COURIER, "US", "exempt", True),
        ("150.01", C.IMPORT_CHANNEL_COURIER, "US", "assessed", True),
        ("20.01", C.IMPORT_CHANNEL_POST, "US", "assessed", True),
        ("20.01", C.IMPORT_CHANNEL_COURIER, "CN", "assessed", True),
    ],
)
async def test_example_4_canadian_de_minimis_decides_the_estimate(
    servicer: CustomsServicer, value: str, channel: int, shipped_from: str, duty: str, tax_due: bool
) -> None:
    request = C.CalculateDutyReclaimRequest(
        import_country="CA",
        import_date=day("2026-03-01"),
        import_currency="CAD",
        lines=[
            C.ReclaimEntryLine(
                line_id="1",
                sku="S",
                hs_code="6109.10",
                imported_quantity=1,
                returned_quantity=1,
                customs_value=money(value, "CAD"),
            )
        ],
        return_reason=common_pb2.RETURN_REASON_DEFECTIVE,
        condition=common_pb2.ITEM_CONDITION_NEW_OPENED,
        export_date=day("2026-04-01"),
        import_channel=channel,  # type: ignore[arg-type]
        shipped_from_country=shipped_from,
    )
    response = await servicer.CalculateDutyReclaim(request, None)
    assert response.de_minimis.duty == duty
    assert response.de_minimis.import_tax_due is tax_due


async def test_example_5_australian_price_rebate(servicer: CustomsServicer) -> None:
    request = C.CalculateDutyReclaimRequest(
        import_country="AU",
        import_date=day("2026-02-01"),
        import_currency="AUD",
        import_entry_number="AU-1",
        lines=[
            C.ReclaimEntryLine(
                line_id="1",
                sku="S",
                hs_code="6109.10.00",
                imported_quantity=1,
                returned_quantity=0,
                customs_value=money("1000", "AUD"),
                paid=paid("AUD", duty="50.00"),
                price_rebate=money("200", "AUD"),
            )
        ],
        return_reason=common_pb2.RETURN_REASON_DEFECTIVE,
        condition=common_pb2.ITEM_CONDITION_NEW_OPENED,
        export_date=day("2026-02-01"),
        proof_of_export=C.ProofOfExport(
            kind=C.PROOF_OF_EXPORT_KIND_WAYBILL, reference="W", date=day("2026-02-01")
        ),
    )
    response = await servicer.CalculateDutyReclaim(request, None)
    assert list(response.best_regime_ids) == ["au-reg112-price-rebate"]
    assert as_decimal(response.total_refundable_amount) == Decimal("10.00")
    (lost,) = response.not_refundable
    assert as_decimal(lost.amount) == Decimal("40.00")
    request.no_commercial_value_at_entry = True
    whole = await servicer.CalculateDutyReclaim(request, None)
    assert as_decimal(whole.total_refundable_amount) == Decimal("50.00")


# Combined regimes, components, display currency --------------------------------------------------------


async def test_the_best_option_is_a_set_of_regimes_that_combine(servicer: CustomsServicer) -> None:
    response = await servicer.CalculateDutyReclaim(eu_request(), None)
    assert set(response.best_regime_ids) == {"eu-ucc118-rejected", "eu-ioss-vat-adjustment"}
    assert response.best_regime_id == response.best_regime_ids[0]
    by_component = {item.component: as_decimal(item.amount) for item in response.total_refundable}
    assert by_component == {
        C.CHARGE_COMPONENT_DUTY: Decimal("14.40"),
        C.CHARGE_COMPONENT_VAT: Decimal("22.80"),
    }
    assert as_decimal(response.total_refundable_amount) == Decimal("37.20")
    # Display amounts in GBP from the service's FX table, with its date and source.
    assert response.display_currency == "GBP"
    assert response.total_refundable_display_amount.currency_code == "GBP"
    expected = FX.convert(Money.of("37.20", "EUR"), "GBP").amount
    assert as_decimal(response.total_refundable_display_amount) == expected
    assert response.fx_as_of == day(FX.as_of.isoformat())
    assert all(item.display_amount.currency_code == "GBP" for item in response.total_refundable)
    assert {form.code for form in response.forms} == {
        f.code for r in response.regimes if r.regime.id in response.best_regime_ids for f in r.forms
    }
    assert response.proof_of_export
    # No proof of export was given and the date is in the past: keep proof, per regime.
    assert {w.regime_id for w in response.warnings if w.code == "PROOF_OF_EXPORT_MISSING"} == set(
        response.best_regime_ids
    )


async def test_regimes_that_do_not_apply_say_why(servicer: CustomsServicer) -> None:
    request = eu_request()
    request.return_reason = common_pb2.RETURN_REASON_CHANGED_MIND
    response = await servicer.CalculateDutyReclaim(request, None)
    art118 = next(r for r in response.regimes if r.regime.id == "eu-ucc118-rejected")
    assert not art118.eligible
    failed = [check.text for check in art118.checks if not check.passed]
    assert failed
    assert "changed_mind" in failed[0]
    assert list(art118.reasons) == [check.text for check in art118.checks]
    assert "eu-ucc118-rejected" not in response.best_regime_ids
    assert any(n.component == C.CHARGE_COMPONENT_DUTY for n in response.not_refundable)


async def test_antidumping_duty_is_its_own_component_and_is_not_drawn_back(servicer: CustomsServicer) -> None:
    request = example_1_request()
    request.lines[0].ClearField("paid")
    request.lines[0].paid.extend(paid("USD", duty="100.00", ad_cvd="40.00"))
    response = await servicer.CalculateDutyReclaim(request, None)
    assert as_decimal(response.total_refundable_amount) == Decimal("99.00")
    ad_cvd = next(n for n in response.not_refundable if n.component == C.CHARGE_COMPONENT_AD_CVD)
    assert as_decimal(ad_cvd.amount) == Decimal("40.00")
    assert "antidumping" in ad_cvd.reason


async def test_an_expected_export_warns_that_the_claim_waits_for_the_goods(servicer: CustomsServicer) -> None:
    request = example_1_request()
    request.ClearField("proof_of_export")
    request.export_date.CopyFrom(day("2026-12-15"))  # after today: the expected date
    response = await servicer.CalculateDutyReclaim(request, None)
    assert any(w.code == WarningCode.NOT_YET_EXPORTED.value for w in response.warnings)


# Validation ---------------------------------------------------------------------------------------------


async def test_every_structural_problem_is_named_with_its_request_path(servicer: CustomsServicer) -> None:
    request = example_2_request({"1": 10})
    request.ClearField("import_date")
    request.display_currency = "XYZ"
    request.lines[0].ClearField("customs_value")
    request.lines[1].paid[0].amount.units = 1
    request.lines[1].paid[0].amount.nanos = -5  # units and nanos disagree
    request.entry_charges.append(C.ChargeAmount(component=C.CHARGE_COMPONENT_MPF, amount=money("1", "USD")))
    request.entry_charges.append(C.ChargeAmount(amount=money("1", "USD")))
    request.importer_type = 42  # type: ignore[assignment]
    request.proof_of_export.ClearField("kind")
    found = await refused(servicer, request)
    assert set(found) == {
        "import_date",
        "display_currency",
        "lines[0].customs_value",
        "lines[1].paid[0].amount.nanos",
        "entry_charges[1].component",
        "entry_charges[2].component",
        "importer_type",
        "proof_of_export.kind",
    }
    assert "twice" in found["entry_charges[1].component"]


@pytest.mark.parametrize(
    ("change", "path", "words"),
    [
        (lambda r: setattr(r.lines[1], "hs_code", "77AB"), "lines[1].hs_code", ""),
        (lambda r: setattr(r.lines[1], "returned_quantity", 6000), "lines[1].returned_quantity", "between"),
        (lambda r: setattr(r.lines[2], "line_id", "3"), "lines[2].line_id", "duplicate"),
        (lambda r: setattr(r, "import_currency", "usd"), "import_currency", "USD"),
        (lambda r: setattr(r, "import_country", "XX"), "import_country", ""),
        (lambda r: r.export_date.CopyFrom(day("2025-12-31")), "export_date", "before the import date"),
        (lambda r: r.lines[0].paid[0].amount.CopyFrom(money("1", "EUR")), "lines[0].paid[0].amount", "EUR"),
        (
            lambda r: r.lines[0].paid.append(
                C.ChargeAmount(component=C.CHARGE_COMPONENT_MPF, amount=money("1", "USD"))
            ),
            "lines[0].paid[5].amount",
            "entry_charges",
        ),
        (
            lambda r: r.designated_imports.append(
                C.DesignatedImport(sku="SKU-1", hs_code="ABC", import_date=day("2026-01-01"))
            ),
            "designated_imports[0].hs_code",
            "",
        ),
        (
            lambda r: r.lines[1].price_rebate.CopyFrom(money("60000", "USD")),
            "lines[1].price_rebate",
            "exceeds",
        ),
        (lambda r: r.debt_notification_date.CopyFrom(day("2026-01-01")), "debt_notification_date", "before"),
    ],
)
async def test_a_case_the_domain_refuses_names_the_request_field(
    servicer: CustomsServicer, change: object, path: str, words: str
) -> None:
    request = example_2_request({"1": 10})
    change(request)  # type: ignore[operator]
    found = await refused(servicer, request)
    assert list(found) == [path]
    assert words in found[path]


async def test_an_export_date_is_required_without_a_label(servicer: CustomsServicer) -> None:
    request = example_1_request()
    request.ClearField("export_date")
    request.ClearField("proof_of_export")
    assert list(await refused(servicer, request)) == ["export_date"]


async def test_list_filters_are_validated_before_anything_is_read(servicer: CustomsServicer) -> None:
    with pytest.raises(InvalidArgument) as caught:
        await servicer.ListReclaimClaims(C.ListReclaimClaimsRequest(statuses=[0, 99], order_by=7), None)  # type: ignore[list-item,arg-type]
    assert set(violations(caught.value)) == {"statuses[0]", "statuses[1]", "order_by"}
    for bad in ({"page_size": -1}, {"page_size": 501}, {"page_token": "not-a-token"}):
        with pytest.raises(InvalidArgument) as caught:
            await servicer.ListReclaimClaims(C.ListReclaimClaimsRequest(**bad), None)
        assert list(violations(caught.value)) == list(bad)


async def test_without_reclaim_the_rpcs_are_unimplemented() -> None:
    servicer = CustomsServicer(DECLARATIONS)
    with pytest.raises(Unimplemented):
        await servicer.CalculateDutyReclaim(example_1_request(), None)
    with pytest.raises(Unimplemented):
        await servicer.ListReclaimClaims(C.ListReclaimClaimsRequest(), None)


# A label's reclaim cases --------------------------------------------------------------------------------


def _party(country: str) -> Party:
    return Party(Contact("Someone"), Address(country, ("1 Main Street",), "Town", "10001"))


def _item(
    sku: str, value: str, currency: str, reason: ReturnReason, condition: ItemCondition
) -> ReturnedItem:
    return ReturnedItem(
        sku=sku,
        description=sku,
        quantity=1,
        unit_value=Money.of(value, currency),
        unit_weight_grams=100,
        origin_country="CN",
        hs_code="6109100010",
        condition=condition,
        return_reason=reason,
    )


def _label(order: OriginalOrder | None, *items: ReturnedItem, customer: str = "DE") -> LabelReturn:
    shipment = ReturnShipment(
        customer=_party(customer),
        destination=_party("GB"),
        parcels=(Parcel(500, 100, 100, 100),),
        items=items,
        original_order=order,
    )
    return LabelReturn("merchant-a", "lbl_1", shipment, dt.date(2026, 4, 1))


def test_a_label_has_one_case_per_reason_and_condition_apportioning_over_all_items() -> None:
    order = OriginalOrder(
        order_date=dt.date(2026, 2, 20),
        import_entry_number="E-1",
        duties_paid=Money.of("30.00", "USD"),  # recorded in the merchant's currency
    )
    defective = _item("A", "100", "EUR", ReturnReason.DEFECTIVE, ItemCondition.NEW_OPENED)
    wrong_size = _item("B", "50", "EUR", ReturnReason.WRONG_SIZE, ItemCondition.NEW_UNOPENED)
    also_defective = _item("C", "50", "EUR", ReturnReason.DEFECTIVE, ItemCondition.NEW_OPENED)
    cases = label_cases(_label(order, defective, wrong_size, also_defective), FX)
    assert [(c.group.key, c.skus) for c in cases] == [
        ("defective/new_opened", ("A", "C")),
        ("wrong_size/new_unopened", ("B",)),
    ]
    first = cases[0].case
    assert first is not None
    entry = first.import_entry
    assert entry.country == "DE"
    assert entry.currency == "EUR"
    assert entry.import_date == dt.date(2026, 2, 20)  # no delivery date: the order date
    assert entry.importer_type is ImporterType.BUSINESS
    assert [line.returned_quantity for line in entry.lines] == [1, 0, 1]
    assert entry.entry_charges.duty == FX.convert(Money.of("30.00", "USD"), "EUR")
    assert first.return_details.export_expected
    messages = " ".join(w.message for w in cases[0].warnings)
    assert "order date" in messages
    assert "converted" in messages
    assert "importer of record" in messages


def test_a_label_without_order_dates_or_fx_has_no_case_but_says_why() -> None:
    item = _item("A", "100", "EUR", ReturnReason.DEFECTIVE, ItemCondition.NEW_OPENED)
    (undated,) = label_cases(_label(None, item), FX)
    assert undated.case is None
    assert "import date" in undated.problem
    assert any("import entry number" in w.message for w in undated.warnings)
    assert any(w.code is WarningCode.ASSUMPTION and "customer" in w.message for w in undated.warnings)
    exotic = _item("A", "100", "XAF", ReturnReason.DEFECTIVE, ItemCondition.NEW_OPENED)
    (unvalued,) = label_cases(_label(OriginalOrder(delivery_date=dt.date(2026, 3, 1)), exotic), FX)
    assert unvalued.case is None
    assert "FX rate XAF->EUR" in unvalued.problem


def test_an_invalid_item_becomes_the_reason_in_the_labels_terms() -> None:
    item = _item("A", "100", "EUR", ReturnReason.DEFECTIVE, ItemCondition.NEW_OPENED)
    bad = dataclasses.replace(item, hs_code="12")
    (case,) = label_cases(_label(OriginalOrder(delivery_date=dt.date(2026, 3, 1)), item, bad), FX)
    assert case.case is None
    assert case.problem.startswith("items[1].hs_code")


# Tracking events as export evidence ---------------------------------------------------------------------


def _logged(status: TrackingStatus, country: str, milestone: ReturnMilestone | None = None) -> LoggedEvent:
    at = dt.datetime(2026, 4, 3, 9, tzinfo=dt.UTC)
    event = TrackingEvent("acct", "TN1", at, status, location=TrackingLocation(country=country))
    return LoggedEvent(7, "id", "merchant-a", "shp", "lbl_1", EventSource.POLL, at, event, milestone)


@pytest.mark.parametrize(
    ("status", "country", "milestone", "expected"),
    [
        (TrackingStatus.IN_TRANSIT, "DE", ReturnMilestone.DROPPED_OFF, ExportMilestone.FIRST_SCAN),
        (TrackingStatus.IN_TRANSIT, "FR", ReturnMilestone.IN_TRANSIT_TO_HUB, None),  # still in the EU
        (
            TrackingStatus.IN_TRANSIT,
            "GB",
            ReturnMilestone.IN_TRANSIT_TO_HUB,
            ExportMilestone.DEPARTED_COUNTRY,
        ),
        (TrackingStatus.IN_TRANSIT, "GB", ReturnMilestone.DROPPED_OFF, ExportMilestone.DEPARTED_COUNTRY),
        (TrackingStatus.DELIVERED, "GB", ReturnMilestone.ARRIVED_AT_HUB, ExportMilestone.ARRIVED_AT_HUB),
        (TrackingStatus.DELIVERED, "", ReturnMilestone.DELIVERED_TO_MERCHANT, ExportMilestone.ARRIVED_AT_HUB),
        (TrackingStatus.PRE_TRANSIT, "GB", None, None),
        (TrackingStatus.IN_TRANSIT, "ZZ", None, None),  # an unreadable country proves nothing
    ],
)
def test_tracking_events_as_export_evidence_for_an_eu_claim(
    status: TrackingStatus, country: str, milestone: ReturnMilestone | None, expected: ExportMilestone | None
) -> None:
    evidence = export_evidence_of(_logged(status, country, milestone), "EU")
    assert (evidence.milestone if evidence else None) is expected
    if evidence is not None:
        assert evidence.reference == "TN1"
        assert evidence.country == (country or None)


async def test_an_unstated_condition_counts_as_possibly_used(servicer: CustomsServicer) -> None:
    request = example_1_request()
    request.condition = common_pb2.ITEM_CONDITION_UNSPECIFIED
    response = await servicer.CalculateDutyReclaim(request, None)
    unused = next(r for r in response.regimes if r.regime.id == "us-1313j1-unused")
    assert not unused.eligible
    assert any(w.code == "ASSUMPTION" and "possibly used" in w.message for w in response.warnings)
    request.goods_used = False  # the caller says so: the condition no longer decides
    stated = await servicer.CalculateDutyReclaim(request, None)
    assert next(r for r in stated.regimes if r.regime.id == "us-1313j1-unused").eligible
    assert not any("possibly used" in w.message for w in stated.warnings)
