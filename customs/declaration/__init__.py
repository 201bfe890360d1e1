"""Customs declarations for returns: CN 22 / CN 23 content and lane requirements.

Which countries form one customs territory, by date, is customs.territories.
"""

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
from customs.declaration.requirements import DeclarationRules, declaration_required, declaration_rules

__all__ = [
    "Certification",
    "ContentsCategory",
    "CustomsDeclaration",
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
    "declaration_required",
    "declaration_rules",
    "validate_eori",
]
