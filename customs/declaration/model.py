"""What a customs declaration for a return says, independent of how it is printed or sent to a carrier.

Renderers (CN 23 / commercial invoice PDF) and carrier adapters (EasyPost `customs_info`, Shippo customs
declarations) read these objects; nothing here knows about either. Units: grams, Money (Decimal).
Problem paths name fields of DeclarationRequest (`items[1].hs_code`, `original_order.invoice_number`,
`addressee.contact.tax_ids.EORI`), so a transport layer can map them to its own request fields.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from customs.address import Party
from customs.goods import OriginalOrder, ReturnedItem
from customs.hs import HsCode
from customs.money import Money


class DeclarationForm(StrEnum):
    """UPU customs declaration form."""

    CN22 = "CN22"  # letter-post items up to 300 SDR
    CN23 = "CN23"  # letter-post items above 300 SDR, and every parcel


class MailClass(StrEnum):
    LETTER_POST = "letter_post"  # small packets up to 2 kg
    PARCEL = "parcel"


class ContentsCategory(StrEnum):
    """The category boxes of CN 22 / CN 23; a return is always RETURNED_GOODS, the rest exist to be drawn."""

    GIFT = "gift"
    DOCUMENTS = "documents"
    COMMERCIAL_SAMPLE = "commercial_sample"
    RETURNED_GOODS = "returned_goods"
    SALE_OF_GOODS = "sale_of_goods"
    OTHER = "other"


class Incoterm(StrEnum):
    """Incoterms 2020 rules for any mode of transport. Says who bears costs and risks, not who pays duty."""

    EXW = "EXW"
    FCA = "FCA"
    CPT = "CPT"
    CIP = "CIP"
    DAP = "DAP"
    DPU = "DPU"
    DDP = "DDP"


class DutyPayer(StrEnum):
    """Who is billed duties and taxes at destination; chosen on its own, never derived from the incoterm."""

    SENDER = "sender"
    ADDRESSEE = "addressee"
    THIRD_PARTY = "third_party"


class NonDeliveryOption(StrEnum):
    """What the carrier does with the parcel if it cannot be delivered."""

    RETURN = "return"
    ABANDON = "abandon"


@dataclass(frozen=True, slots=True)
class Certification:
    """The sender's certification that the particulars are correct (signature block of CN 22 / CN 23)."""

    signer_name: str
    signed_on: dt.date


@dataclass(frozen=True, slots=True)
class DeclarationRequest:
    """Everything a return declaration is built from. Field names are the roots of problem paths.

    The sender is who sends the return (usually the customer), the addressee receives it (usually the
    merchant's returns hub) and is the importer. `aes_itn` is this return's own US export filing, needed
    only when goods leave the US above the EEI threshold.
    """

    sender: Party
    addressee: Party
    items: Sequence[ReturnedItem]
    original_order: OriginalOrder
    declaration_date: dt.date
    gross_weight_grams: int
    incoterm: Incoterm | None
    duty_payer: DutyPayer | None
    non_delivery_option: NonDeliveryOption | None
    certification: Certification | None
    mail_class: MailClass = MailClass.PARCEL
    aes_itn: str = ""


@dataclass(frozen=True, slots=True)
class DeclarationLine:
    """One line of contents, as CN 23 and commercial invoices list them."""

    description: str
    quantity: int
    net_weight_grams: int  # the whole line
    unit_value: Money
    value: Money  # the whole line, rounded to the currency's minor units
    hs_code: HsCode  # validated against the edition in force on the declaration date
    origin_country: str  # ISO 3166-1 alpha-2
    sku: str


@dataclass(frozen=True, slots=True)
class DeclarationTotals:
    value: Money  # one currency: lines in different currencies are refused, not converted
    value_sdr: Money | None  # value in XDR, which decides CN 22 vs CN 23; None if the FX table has no XDR
    net_weight_grams: int
    gross_weight_grams: int  # parcel with packaging
    quantity: int


@dataclass(frozen=True, slots=True)
class DeclarationReferences:
    """Cross-references to the original sale, and this return's own US export filing."""

    order_id: str
    outbound_tracking_number: str  # S10 barcode or HAWB of the original outbound parcel
    invoice_number: str  # the original sale's invoice
    export_reference: str  # the outbound export declaration (EU MRN, US AES ITN, ...)
    import_entry_number: str  # the import declaration in the customer's country
    aes_itn: str  # this return's EEI filing when it leaves the US above the threshold, else ""
    eel_pfc: (
        str  # US exemption or proof-of-filing legend ("NOEEI 30.37(a)", "AES X2026..."); "" off US exports
    )


@dataclass(frozen=True, slots=True)
class CustomsDeclaration:
    form: DeclarationForm
    category: ContentsCategory
    mail_class: MailClass
    lines: tuple[DeclarationLine, ...]
    totals: DeclarationTotals
    references: DeclarationReferences
    sender: Party  # addresses normalised (upper-case country codes, trimmed lines)
    addressee: Party  # the importer; its tax_ids carry the importer reference (EORI, VAT)
    incoterm: Incoterm
    duty_payer: DutyPayer
    non_delivery_option: NonDeliveryOption
    certification: Certification
    declaration_date: dt.date
    hs_edition: str  # e.g. "HS2022"
    fx_as_of: dt.date  # date of the FX table used for SDR and threshold conversions
    rules_applied: tuple[str, ...]  # ids of the lane rules of declaration_requirements.toml that applied


@dataclass(frozen=True, slots=True)
class DeclarationProblem:
    path: str  # field path in DeclarationRequest
    message: str


class DeclarationInvalid(ValueError):
    """Every problem found in a DeclarationRequest, each with its path; raised once with all of them."""

    def __init__(self, problems: Sequence[DeclarationProblem]) -> None:
        self.problems = tuple(problems)
        if not self.problems:
            raise ValueError("DeclarationInvalid needs at least one problem")
        super().__init__(
            "customs declaration invalid: " + "; ".join(f"{p.path}: {p.message}" for p in self.problems)
        )

    @property
    def paths(self) -> tuple[str, ...]:
        return tuple(p.path for p in self.problems)
