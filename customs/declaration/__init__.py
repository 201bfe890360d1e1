"""Customs declarations for returns: CN 22 / CN 23 content, lane requirements, customs territories."""

from customs.declaration.builder import build_customs_declaration
from customs.declaration.eori import Eori, InvalidEori, validate_eori
from customs.declaration.model import (
    Certification,
    ContentsCategory,
    CustomsDeclaration,
    DeclarationForm,
    DeclarationInvalid,
    DeclarationLine,
    DeclarationProblem,
    DeclarationReferences,
    DeclarationRequest,
    DeclarationTotals,
    DutyPayer,
    Incoterm,
    MailClass,
    NonDeliveryOption,
)
from customs.declaration.requirements import DeclarationRules, declaration_rules
from customs.declaration.territories import (
    CustomsTerritory,
    customs_territories,
    customs_territory,
    declaration_required,
)

__all__ = [
    "Certification",
    "ContentsCategory",
    "CustomsDeclaration",
    "CustomsTerritory",
    "DeclarationForm",
    "DeclarationInvalid",
    "DeclarationLine",
    "DeclarationProblem",
    "DeclarationReferences",
    "DeclarationRequest",
    "DeclarationRules",
    "DeclarationTotals",
    "DutyPayer",
    "Eori",
    "Incoterm",
    "InvalidEori",
    "MailClass",
    "NonDeliveryOption",
    "build_customs_declaration",
    "customs_territories",
    "customs_territory",
    "declaration_required",
    "declaration_rules",
    "validate_eori",
]
