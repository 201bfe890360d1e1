"""What the document renderers take in and hand back.

Inputs are frozen and checked on construction, so a renderer never meets a value it cannot print safely:
identifiers that end up inside barcodes and ZPL commands are limited to characters with no meaning there.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from enum import StrEnum

from customs.address import InvalidAddress, Party
from customs.money import Money


class DocumentKind(StrEnum):
    LABEL = "label"
    CN22 = "cn22"
    CN23 = "cn23"
    COMMERCIAL_INVOICE = "commercial_invoice"
    RETURN_INSTRUCTIONS = "return_instructions"


class DocumentFormat(StrEnum):
    PDF = "pdf"
    PNG = "png"
    ZPL = "zpl"


# ZPL has no registered media type; x-zpl is what label printing services commonly send.
CONTENT_TYPES: dict[DocumentFormat, str] = {
    DocumentFormat.PDF: "application/pdf",
    DocumentFormat.PNG: "image/png",
    DocumentFormat.ZPL: "application/x-zpl",
}


@dataclass(frozen=True, slots=True)
class RenderedDocument:
    kind: DocumentKind
    content_type: str
    format: DocumentFormat
    data: bytes
    filename: str


class InvalidDocumentInput(ValueError):
    """A renderer input cannot be printed; `field` names it relative to the input object."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class Handover(StrEnum):
    DROP_OFF = "drop_off"
    PICKUP = "pickup"


# Tracking numbers go into Code 128 and ZPL ^BC fields: letters, digits and dashes only.
_TRACKING_NUMBER = re.compile(r"[A-Za-z0-9-]{1,40}")
# Label ids go into the QR payload and file names: no spaces, no ZPL prefixes (^ ~), no path separators.
_LABEL_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def check_tracking_number(value: str, field: str = "tracking_number") -> str:
    if not _TRACKING_NUMBER.fullmatch(value):
        raise InvalidDocumentInput(field, "expected 1 to 40 letters, digits or dashes")
    return value


def _check_text(value: str, field: str) -> None:
    if not value.strip():
        raise InvalidDocumentInput(field, "must not be empty")


def _validated_party(party: Party, field: str) -> Party:
    _check_text(party.contact.name, f"{field}.contact.name")
    try:
        address = party.address.validated()
    except InvalidAddress as exc:
        raise InvalidDocumentInput(f"{field}.address.{exc.field}", exc.message) from exc
    return Party(party.contact, address)


@dataclass(frozen=True, slots=True)
class LabelDocument:
    """A shipping label of a rate-card partner, which has no API to print one for us."""

    label_id: str
    tracking_number: str
    carrier_name: str
    service_name: str
    sender: Party  # the customer sending the goods back
    hub: Party  # the returns hub receiving them
    weight_grams: int
    created_on: dt.date
    cross_border: bool
    parcel_number: int = 1
    parcel_count: int = 1

    def __post_init__(self) -> None:
        if not _LABEL_ID.fullmatch(self.label_id):
            raise InvalidDocumentInput("label_id", "expected 1 to 64 letters, digits or . _ : -")
        check_tracking_number(self.tracking_number)
        _check_text(self.carrier_name, "carrier_name")
        _check_text(self.service_name, "service_name")
        object.__setattr__(self, "sender", _validated_party(self.sender, "sender"))
        object.__setattr__(self, "hub", _validated_party(self.hub, "hub"))
        if self.weight_grams <= 0:
            raise InvalidDocumentInput("weight_grams", "must be positive")
        if self.parcel_count < 1:
            raise InvalidDocumentInput("parcel_count", "must be at least 1")
        if not 1 <= self.parcel_number <= self.parcel_count:
            raise InvalidDocumentInput("parcel_number", f"must be between 1 and {self.parcel_count}")


@dataclass(frozen=True, slots=True)
class InstructionsDocument:
    """The page that tells the customer how to send the return, in the customer's language."""

    locale: str  # the customer's locale as BCP 47 or POSIX, e.g. "de-AT" or "ja_JP"
    customer_name: str
    tracking_number: str
    tracking_url: str
    carrier_name: str
    hub: Party
    handover: Handover
    return_deadline: dt.date
    customer_cost: Money  # what the customer pays for the return; zero means free
    cross_border: bool
    issued_on: dt.date
    pickup_date: dt.date | None = None

    def __post_init__(self) -> None:
        check_tracking_number(self.tracking_number)
        _check_text(self.customer_name, "customer_name")
        _check_text(self.carrier_name, "carrier_name")
        object.__setattr__(self, "hub", _validated_party(self.hub, "hub"))
        if not self.tracking_url.startswith(("https://", "http://")):
            raise InvalidDocumentInput("tracking_url", "expected an http(s) URL")
        if self.handover is Handover.PICKUP and self.pickup_date is None:
            raise InvalidDocumentInput("pickup_date", "required when the parcel is picked up")
        if self.handover is Handover.DROP_OFF and self.pickup_date is not None:
            raise InvalidDocumentInput("pickup_date", "only allowed when the parcel is picked up")
        if self.customer_cost.amount < 0:
            raise InvalidDocumentInput("customer_cost", "must not be negative")
