"""LabelsService through a real server process: quote, buy, read the documents back, exactly once.

Lanes. Germany -> the EU hub (Venlo, NL) stays inside the EU customs union: it is the domestic case here
and gets no customs documents. The cross-border cases are Switzerland -> the EU hub (a rate-card partner
whose label the service renders) and Canada -> the US hub (the sandbox API carrier). Documents are read
back with poppler (pdftotext, pdftoppm). Carrier-side purchases are counted in the sandbox's ledger files.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import pytest
from google.rpc import error_details_pb2
from google.type import date_pb2, money_pb2, postal_address_pb2
from grpc_status import rpc_status

from backhaul.v1 import common_pb2, labels_pb2, labels_pb2_grpc, rates_pb2, rates_pb2_grpc
from carriers.models import Handover
from customs.money import Money
from service.grpc import convert
from service.quoting.hubs import load_hubs
from service.quoting.token import QuoteClaims, QuoteTokenSigner, shipment_digest
from service.quoting.validation import build_return_shipment
from tests.e2e.server_process import ServerProcess

Metadata = tuple[tuple[str, str], ...]
Keys = dict[str, Metadata]
SECRET = "e2e-secret-" + "x" * 32  # ServerProcess's BACKHAUL_QUOTE_TOKEN_SECRET

HUBS_TOML = """
source = "e2e labels hubs"
effective_from = 2026-01-01
default_hub = "EU_HUB"

[[hubs]]
id = "EU_HUB"
name = "EU returns hub, Venlo"
countries = ["DE", "NL", "CH"]
[hubs.contact]
name = "Backhaul Returns EU"
tax_ids = { eori = "NL000000000" }
[hubs.address]
region_code = "NL"
address_lines = ["Columbusweg 12"]
locality = "Venlo"
postal_code = "5928 LC"
organization = "Backhaul Returns EU B.V."

[[hubs]]
id = "US_HUB"
name = "US returns hub, Columbus"
countries = ["US", "CA"]
[hubs.contact]
name = "Backhaul Returns US"
tax_ids = { ein = "12-3456789" }
[hubs.address]
region_code = "US"
address_lines = ["2400 Spiegel Drive"]
locality = "Groveport"
administrative_area = "OH"
postal_code = "43125"
organization = "Backhaul Returns US Inc."
"""

# A Swiss partner without an API, returning to the EU hub: its labels are rendered by the service.
ALPINE_CARD = """
[card]
id = "alpine_post_ch"
carrier = "Alpine Post"
example = true
note = "Test card."
source = "Written for the labels end-to-end test."
currency = "CHF"
effective_from = 2026-01-01
volumetric_divisor = 5000
weight_increment_grams = 500
max_weight_grams = 30000
fuel_surcharge_percent = "3.0"
label_formats = ["pdf", "zpl"]

[s10]
service_indicator = "CA"
country = "CH"

[[lanes]]
origin_countries = ["CH"]
hub_ids = ["EU_HUB"]

[[zones]]
id = "ch"
countries = ["CH"]

[[services]]
code = "retour_international"
name = "Retour International"
handovers = ["drop_off"]

[[services.tariffs]]
zone = "ch"
transit_days = 4
breaks = [{ up_to_grams = 5000, price = "18.50" }, { up_to_grams = 30000, price = "29.00" }]
"""

CARRIERS_TOML = """
[[accounts]]
id = "rhein-paket"
adapter = "ratecard"
carrier = "Rhein Paket"
[accounts.options]
card = "rhein_paket_de"

[[accounts]]
id = "alpine-post"
adapter = "ratecard"
carrier = "Alpine Post"
[accounts.options]
card_file = "{alpine}"

[[accounts]]
id = "sandbox"
adapter = "sandbox"
carrier = "Sandbox Express"
[accounts.options]
latency_ms = 30
seed = 5
currency = "USD"
ledger_file = "{ledger}"

[[accounts]]
id = "sandbox-flaky"
adapter = "sandbox"
carrier = "Sandbox Flaky"
[accounts.options]
mode = "unavailable"
fail_first = 1
currency = "USD"
ledger_file = "{flaky_ledger}"
[accounts.policy]
max_attempts = 1
"""


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("labels-api")


@pytest.fixture(scope="module")
def server(workdir: Path) -> Iterator[ServerProcess]:
    alpine = workdir / "alpine_post_ch.toml"
    alpine.write_text(ALPINE_CARD)
    carriers = workdir / "carriers.toml"
    carriers.write_text(
        CARRIERS_TOML.format(
            alpine=alpine, ledger=workdir / "sandbox.jsonl", flaky_ledger=workdir / "sandbox-flaky.jsonl"
        )
    )
    hubs = workdir / "hubs.toml"
    hubs.write_text(HUBS_TOML)
    process = ServerProcess(workdir)
    # Instructions link to the server's own customer tracking page, opened by the label's tracking token.
    process.extra_env = {
        "BACKHAUL_CARRIERS_FILE": str(carriers),
        "BACKHAUL_HUBS_FILE": str(hubs),
        "BACKHAUL_TRACKING_PAGE_URL": f"http://127.0.0.1:{process.http_port}/track/{{tracking_token}}",
    }
    process.start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def channel(server: ServerProcess) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(server.target) as opened:
        yield opened


@pytest.fixture(scope="module")
def keys(server: ServerProcess) -> Keys:
    return {
        merchant: (("authorization", f"Bearer {server.create_key(merchant)}"),)
        for merchant in ("merchant-a", "merchant-b")
    }


def _money(currency: str, units: int, nanos: int = 0) -> money_pb2.Money:
    return money_pb2.Money(currency_code=currency, units=units, nanos=nanos)


def _return(
    country: str, postal_code: str, city: str, hub_id: str, *, area: str = "", currency: str = "EUR"
) -> common_pb2.ReturnShipment:
    today = dt.datetime.now(dt.UTC).date()
    ordered = today - dt.timedelta(days=12)
    delivered = today - dt.timedelta(days=8)
    return common_pb2.ReturnShipment(
        customer=common_pb2.Party(
            contact=common_pb2.Contact(name="Robin Keller", email="robin@example.com", phone="+41441234567"),
            address=postal_address_pb2.PostalAddress(
                region_code=country,
                address_lines=["Main Street 1"],
                locality=city,
                postal_code=postal_code,
                administrative_area=area,
            ),
        ),
        destination=common_pb2.ReturnDestination(hub_id=hub_id),
        parcels=[common_pb2.Parcel(weight_grams=1400, length_mm=300, width_mm=200, height_mm=100)],
        items=[
            common_pb2.ReturnedItem(
                sku="JKT-204",
                description="men's cotton jacket",
                hs_code="6201.30",
                origin_country="PT",
                quantity=1,
                unit_value=_money(currency, 120),
                unit_weight_grams=800,
                return_reason=common_pb2.RETURN_REASON_WRONG_SIZE,
            ),
            common_pb2.ReturnedItem(
                sku="SCF-17",
                description="wool scarf",
                hs_code="6117.10",
                origin_country="IT",
                quantity=2,
                unit_value=_money(currency, 24, 500_000_000),
                unit_weight_grams=150,
                return_reason=common_pb2.RETURN_REASON_WRONG_SIZE,
            ),
        ],
        original_order=common_pb2.OriginalOrder(
            order_id="ORD-7781",
            order_date=date_pb2.Date(year=ordered.year, month=ordered.month, day=ordered.day),
            delivery_date=date_pb2.Date(year=delivered.year, month=delivered.month, day=delivered.day),
            outbound_tracking_number="RR987654321NL",
            invoice_number="INV-2026-5531",
            export_reference="26NL000000000012E3",
        ),
    )


SWISS = _return("CH", "8001", "Zürich", "EU_HUB")
CANADIAN = _return("CA", "M5V 2T6", "Toronto", "US_HUB", area="ON", currency="CAD")
GERMAN = _return("DE", "10115", "Berlin", "EU_HUB")


def _quote(
    channel: grpc.Channel, key: Metadata, shipment: common_pb2.ReturnShipment, account: str
) -> rates_pb2.Quote:
    request = rates_pb2.QuoteReturnRequest()
    request.ParseFromString(shipment.SerializeToString())  # fields 1-5 are the same
    request.preferences.carrier_account_ids.append(account)
    response = rates_pb2_grpc.RatesServiceStub(channel).QuoteReturn(request, metadata=key, timeout=10)
    assert response.quotes, response.errors
    return response.quotes[0]


def _buy(
    channel: grpc.Channel,
    key: Metadata,
    shipment: common_pb2.ReturnShipment,
    token: str,
    idempotency_key: str,
    label_format: common_pb2.DocumentFormat.ValueType = common_pb2.DOCUMENT_FORMAT_PDF,
    locale: str = "",
) -> labels_pb2.ReturnLabel:
    request = labels_pb2.CreateReturnLabelRequest(
        idempotency_key=idempotency_key,
        shipment=shipment,
        quote_token=token,
        label_format=label_format,
        customer_locale=locale,
    )
    return (
        labels_pb2_grpc.LabelsServiceStub(channel).CreateReturnLabel(request, metadata=key, timeout=20).label
    )


def _text(pdf: bytes, workdir: Path) -> str:
    return subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True, timeout=30
    ).stdout.decode()


def _opens(pdf: bytes, workdir: Path, name: str) -> None:
    """pdftoppm turns the PDF into an image (it fails on a broken file)."""
    prefix = workdir / name
    subprocess.run(["pdftoppm", "-r", "50", "-png", "-", str(prefix)], input=pdf, check=True, timeout=30)
    assert list(workdir.glob(f"{name}*.png"))


def _purchases(ledger: Path) -> list[dict[str, object]]:
    if not ledger.exists():
        return []
    entries = [json.loads(line) for line in ledger.read_text().splitlines()]
    return [entry for entry in entries if entry["event"] == "purchase"]


def _details(error: grpc.RpcError) -> dict[str, object]:
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None
    found: dict[str, object] = {}
    for detail in status.details:
        for kind in (error_details_pb2.ErrorInfo, error_details_pb2.BadRequest, error_details_pb2.RetryInfo):
            if detail.Is(kind.DESCRIPTOR):
                message = kind()
                detail.Unpack(message)
                found[kind.__name__] = message
    return found


def _assert_customs_paperwork(label: labels_pb2.ReturnLabel, workdir: Path, currency: str) -> None:
    kinds = [document.kind for document in label.customs_documents]
    assert kinds == [common_pb2.DOCUMENT_KIND_CN23, common_pb2.DOCUMENT_KIND_COMMERCIAL_INVOICE]
    summary = label.declaration_summary
    assert summary.form == 2  # CUSTOMS_FORM_CN23
    assert (summary.line_count, summary.total_net_weight_grams) == (2, 1100)
    assert (summary.total_value.currency_code, summary.total_value.units) == (currency, 169)
    for document in label.customs_documents:
        _opens(document.content, workdir, f"{label.id}-{document.kind}")
        text = _text(document.content, workdir)
        flat = " ".join(text.split())
        assert label.tracking_number in flat
        for line in ("men's cotton jacket", "JKT-204", "6201.30", "wool scarf", "SCF-17", "6117.10"):
            assert line in flat, line
        assert "169.00" in flat  # 120.00 + 2 x 24.50
        for reference in ("ORD-7781", "INV-2026-5531", "RR987654321NL", "26NL000000000012E3"):
            assert reference in flat, reference
    cn23 = " ".join(_text(label.customs_documents[0].content, workdir).split())
    assert "CN 23" in cn23
    assert "☒ Returned goods" in cn23
    invoice = " ".join(_text(label.customs_documents[1].content, workdir).split())
    assert "COMMERCIAL INVOICE" in invoice
    assert "120.00" in invoice  # unit values appear on the invoice
    assert "24.50" in invoice


# Documents -------------------------------------------------------------------------------------------------


def test_a_cross_border_label_from_switzerland_to_the_eu_hub(
    channel: grpc.Channel, keys: Keys, workdir: Path
) -> None:
    key = keys["merchant-a"]
    quote = _quote(channel, key, SWISS, "alpine-post")
    label = _buy(channel, key, SWISS, quote.quote_token, "ch-pdf", locale="fr-CH")
    assert label.status == labels_pb2.RETURN_LABEL_STATUS_PURCHASED
    assert label.carrier.account_id == "alpine-post"
    assert label.carrier.provider == "ratecard"
    assert label.service_name == "Retour International"
    assert label.tracking_number.startswith("CA")
    assert label.tracking_number.endswith("CH")
    assert label.price == quote.price
    assert label.destination_hub.id == "EU_HUB"
    assert label.tracking_token.startswith("bht_")
    document = label.label_document
    assert (document.format, document.content_type) == (common_pb2.DOCUMENT_FORMAT_PDF, "application/pdf")
    _opens(document.content, workdir, "ch-label")
    assert label.tracking_number in _text(document.content, workdir)
    _assert_customs_paperwork(label, workdir, "EUR")
    instructions = label.instructions_document
    assert instructions.language_code == "fr"
    _opens(instructions.content, workdir, "ch-instructions")
    assert label.tracking_number in _text(instructions.content, workdir)

    zpl = _buy(channel, key, SWISS, quote.quote_token, "ch-zpl", label_format=common_pb2.DOCUMENT_FORMAT_ZPL)
    content = zpl.label_document.content.decode("ascii")
    assert content.startswith("^XA")
    assert content.rstrip().endswith("^XZ")
    assert zpl.tracking_number in content
    assert zpl.tracking_number != label.tracking_number


def test_a_cross_border_label_from_canada_to_the_us_hub(
    channel: grpc.Channel, keys: Keys, workdir: Path
) -> None:
    key = keys["merchant-a"]
    quote = _quote(channel, key, CANADIAN, "sandbox")
    label = _buy(channel, key, CANADIAN, quote.quote_token, "ca-1")
    assert label.carrier.provider == "sandbox"
    assert label.destination_hub.id == "US_HUB"
    # The sandbox returns no file, so the service renders the label as it does for rate-card partners.
    _opens(label.label_document.content, workdir, "ca-label")
    assert label.tracking_number in _text(label.label_document.content, workdir)
    _assert_customs_paperwork(label, workdir, "CAD")
    assert label.instructions_document.language_code == "en"  # Canada: English first


def test_a_domestic_return_has_no_customs_documents_nor_reclaim_estimate(
    channel: grpc.Channel, keys: Keys, workdir: Path
) -> None:
    key = keys["merchant-a"]
    quote = _quote(channel, key, GERMAN, "rhein-paket")
    label = _buy(channel, key, GERMAN, quote.quote_token, "de-1")
    assert list(label.customs_documents) == []
    assert not label.HasField("declaration_summary")
    assert not label.HasField("reclaim_estimate")  # nothing was imported, nothing to reclaim
    _opens(label.label_document.content, workdir, "de-label")
    assert label.tracking_number in _text(label.label_document.content, workdir)
    assert label.instructions_document.language_code == "de"


def test_instructions_link_to_the_labels_own_tracking_page(
    server: ServerProcess, channel: grpc.Channel, keys: Keys, workdir: Path
) -> None:
    key = keys["merchant-a"]
    quote = _quote(channel, key, GERMAN, "rhein-paket")  # a rate-card partner: no tracking page of its own
    label = _buy(channel, key, GERMAN, quote.quote_token, "de-tracking-link")
    subprocess.run(
        ["pdftoppm", "-r", "150", "-png", "-", str(workdir / "de-link")],
        input=label.instructions_document.content,
        check=True,
        timeout=30,
    )
    codes = subprocess.run(
        ["zbarimg", "-q", *map(str, sorted(workdir.glob("de-link*.png")))], capture_output=True, timeout=60
    ).stdout.decode()
    # The token printed at purchase (each issue carries its own expiry, so not the answer's token).
    page_prefix = f"QR-Code:http://127.0.0.1:{server.http_port}/track/bht_"
    (link,) = [code.removeprefix("QR-Code:") for code in codes.splitlines() if code.startswith(page_prefix)]
    with urllib.request.urlopen(link, timeout=10) as page:
        assert page.status == 200
        assert label.tracking_number in page.read().decode()


# Exactly once ----------------------------------------------------------------------------------------------


def test_fifty_concurrent_purchases_under_one_key_buy_one_label(
    channel: grpc.Channel, keys: Keys, workdir: Path
) -> None:
    key = keys["merchant-a"]
    quote = _quote(channel, key, CANADIAN, "sandbox")
    before = len(_purchases(workdir / "sandbox.jsonl"))
    with ThreadPoolExecutor(max_workers=50) as pool:
        labels = list(
            pool.map(lambda _: _buy(channel, key, CANADIAN, quote.quote_token, "burst-1"), range(50))
        )
    assert len({label.id for label in labels}) == 1
    assert len({label.tracking_number for label in labels}) == 1
    bought = _purchases(workdir / "sandbox.jsonl")[before:]
    assert len(bought) == 1
    assert bought[0]["tracking_number"] == labels[0].tracking_number


def test_a_key_reused_for_another_request_is_refused(channel: grpc.Channel, keys: Keys) -> None:
    key = keys["merchant-a"]
    quote = _quote(channel, key, GERMAN, "rhein-paket")
    first = _buy(channel, key, GERMAN, quote.quote_token, "reuse-1")
    with pytest.raises(grpc.RpcError) as refused:
        _buy(channel, key, GERMAN, quote.quote_token, "reuse-1", label_format=common_pb2.DOCUMENT_FORMAT_ZPL)
    assert refused.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert _details(refused.value)["ErrorInfo"].reason == "IDEMPOTENCY_KEY_REUSED"  # type: ignore[attr-defined]
    assert _buy(channel, key, GERMAN, quote.quote_token, "reuse-1").id == first.id


def test_a_purchase_the_carrier_failed_is_bought_when_retried(
    channel: grpc.Channel, keys: Keys, workdir: Path
) -> None:
    """The flaky sandbox fails its first call. A quote token is stateless, so one signed with the service's
    secret (as any replica signs them) lets the purchase be that first call."""
    routed = build_return_shipment(
        convert.shipment_input_from_proto(CANADIAN, "", convert.Violations()),
        load_hubs(workdir / "hubs.toml"),
        today=dt.datetime.now(dt.UTC).date(),
    )
    token = QuoteTokenSigner(SECRET).sign(
        QuoteClaims(
            account_id="sandbox-flaky",
            service_code="sandbox_standard",
            handover=Handover.DROP_OFF,
            price=Money.of("30.00", "USD"),
            shipment_digest=shipment_digest(routed.shipment),
            merchant_id="merchant-a",
            expires_at=(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10)).replace(microsecond=0),
        )
    )
    key = keys["merchant-a"]
    with pytest.raises(grpc.RpcError) as failed:
        _buy(channel, key, CANADIAN, token, "flaky-1")
    assert failed.value.code() == grpc.StatusCode.UNAVAILABLE
    retry = _details(failed.value)["RetryInfo"]
    assert retry.retry_delay.seconds == 1  # type: ignore[attr-defined]
    assert _purchases(workdir / "sandbox-flaky.jsonl") == []
    label = _buy(channel, key, CANADIAN, token, "flaky-1")
    assert label.status == labels_pb2.RETURN_LABEL_STATUS_PURCHASED
    assert [entry["tracking_number"] for entry in _purchases(workdir / "sandbox-flaky.jsonl")] == [
        label.tracking_number
    ]


def test_requests_without_a_key_or_with_an_altered_token_are_refused(
    channel: grpc.Channel, keys: Keys
) -> None:
    key = keys["merchant-a"]
    quote = _quote(channel, key, GERMAN, "rhein-paket")
    for idempotency_key, token, field in (
        ("", quote.quote_token, "idempotency_key"),
        ("t-1", quote.quote_token + "x", "quote_token"),
    ):
        with pytest.raises(grpc.RpcError) as refused:
            _buy(channel, key, GERMAN, token, idempotency_key)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        violations = _details(refused.value)["BadRequest"].field_violations  # type: ignore[attr-defined]
        assert [v.field for v in violations] == [field]


# Reading, listing, voiding ---------------------------------------------------------------------------------


def test_labels_are_read_listed_and_voided_per_merchant(channel: grpc.Channel, keys: Keys) -> None:
    key, other = keys["merchant-a"], keys["merchant-b"]
    stub = labels_pb2_grpc.LabelsServiceStub(channel)
    quote = _quote(channel, key, GERMAN, "rhein-paket")
    label = _buy(channel, key, GERMAN, quote.quote_token, "read-1")
    basic = stub.GetReturnLabel(labels_pb2.GetReturnLabelRequest(label_id=label.id), metadata=key).label
    assert basic.label_document.content == b""
    assert basic.label_document.size_bytes == len(label.label_document.content)
    assert basic.label_document.id == label.label_document.id
    full = stub.GetReturnLabel(
        labels_pb2.GetReturnLabelRequest(label_id=label.id, view=labels_pb2.RETURN_LABEL_VIEW_FULL),
        metadata=key,
    ).label
    assert full.label_document.content == label.label_document.content
    assert full.shipment == GERMAN
    with pytest.raises(grpc.RpcError) as hidden:
        stub.GetReturnLabel(labels_pb2.GetReturnLabelRequest(label_id=label.id), metadata=other)
    assert hidden.value.code() == grpc.StatusCode.NOT_FOUND

    seen: list[str] = []
    token = ""
    while True:
        page = stub.ListReturnLabels(
            labels_pb2.ListReturnLabelsRequest(
                page_size=3, page_token=token, carrier_account_ids=["rhein-paket"]
            ),
            metadata=key,
        )
        seen.extend(item.id for item in page.labels)
        token = page.next_page_token
        if not token:
            break
    assert seen[0] == label.id
    assert len(seen) == len(set(seen)) >= 3
    assert stub.ListReturnLabels(labels_pb2.ListReturnLabelsRequest(), metadata=other).labels == []

    voided = stub.VoidReturnLabel(
        labels_pb2.VoidReturnLabelRequest(label_id=label.id, reason="customer kept it"), metadata=key
    ).label
    assert voided.status == labels_pb2.RETURN_LABEL_STATUS_VOIDED
    assert voided.HasField("void_time")
    listed = stub.ListReturnLabels(
        labels_pb2.ListReturnLabelsRequest(statuses=[labels_pb2.RETURN_LABEL_STATUS_VOIDED]), metadata=key
    ).labels
    assert [item.id for item in listed] == [label.id]
