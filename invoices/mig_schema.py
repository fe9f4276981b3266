"""Checking a MIG message before it is written: its XML schema, then the rules across fields no schema holds.

The schemas are MOF's own XSDs when `EINVOICE_MIG_XSD_DIR` names a folder holding them (`F0401.xsd`, ...),
else the project's (invoices/mig_schemas/): written for this product from the MIG 4.1 facts in the reference
notes, since the official files could not be fetched here and their licence is not stated. xmlschema reads
either; a message that fails is never written (invoices/mig.py).
"""

import xml.etree.ElementTree as ET
from functools import cache
from pathlib import Path

import xmlschema
from django.conf import settings

from invoices.carriers import MOBILE_BARCODE_TYPE

BUNDLED = Path(__file__).resolve().parent / "mig_schemas"
B2C_BUYER = "0000000000"


class MessageInvalid(ValueError):
    """A message that its schema or the MIG's rules refuse, with every reason found."""

    def __init__(self, name: str, reasons: list[str]):
        super().__init__(f"{name}: " + "; ".join(reasons))
        self.name, self.reasons = name, reasons


def schema_path(kind: str) -> Path:
    folder = getattr(settings, "EINVOICE_MIG_XSD_DIR", "")
    return Path(folder) / f"{kind}.xsd" if folder else BUNDLED / f"{kind}.xsd"


@cache
def _schema(path: Path) -> xmlschema.XMLSchema10:
    return xmlschema.XMLSchema10(str(path))


def message_problems(kind: str, root: ET.Element) -> list[str]:
    """Everything wrong with one message: the schema's errors (element order, required elements, lengths,
    codes), then the MIG's rules across fields. Empty when it may be written."""
    schema = _schema(schema_path(kind))
    problems = [f"{error.path}: {error.reason}" for error in schema.iter_errors(root)]
    if kind == "F0401" and not problems:
        problems += _f0401_rules(root)
    return problems


def check_message(kind: str, name: str, root: ET.Element) -> None:
    problems = message_problems(kind, root)
    if problems:
        raise MessageInvalid(name, problems)


def _f0401_rules(root: ET.Element) -> list[str]:
    """F0401's rules between fields (einvoice-compliance.md §4.3, domain-facts.md §4.5)."""
    main = {child.tag.rsplit("}", 1)[-1]: child for child in root.find("{*}Main")}
    value = {name: (element.text or "") for name, element in main.items()}
    b2c = main["Buyer"].find("{*}Identifier").text == B2C_BUYER
    carrier = "CarrierType" in value
    donated = value["DonateMark"] == "1"
    problems = []
    if carrier != ("CarrierId1" in value) or carrier != ("CarrierId2" in value):
        problems.append("CarrierType, CarrierId1 and CarrierId2 go together")
    if donated != ("NPOBAN" in value):
        problems.append("DonateMark 1 needs an NPOBAN, and an NPOBAN needs DonateMark 1")
    if donated and not b2c:
        problems.append("an invoice with the buyer's 統一編號 cannot be donated")
    if b2c and not (value["PrintMark"] == "Y" or carrier or donated):
        problems.append("a consumer's invoice is printed, goes to a carrier, or is donated")
    # PrintMark Y leaves the carrier empty, except a 手機條碼 claiming an invoice with the buyer's 統編.
    if value["PrintMark"] == "Y" and carrier and (b2c or value["CarrierType"] != MOBILE_BARCODE_TYPE):
        problems.append("a printed invoice has no carrier, unless a 手機條碼 claims it with the buyer's 統一編號")
    if value["PrintMark"] == "Y" and donated:
        problems.append("a printed invoice is not donated")
    return problems
