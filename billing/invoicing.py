"""Where billing hands a paid charge to the e-invoice app (SPEC §4: every paid charge gets an invoice)."""

import logging

from django.db import transaction

from accounts.batches import each_alone_on_failure
from billing.models import Plan
from invoices.issuing import invoices_issue

logger = logging.getLogger(__name__)


def issue_invoice_for(charge) -> None:
    issue_invoices_for([charge])


def issue_invoices_for(charges: list) -> None:
    """Issue the charges' invoices inside the settling transaction, in a savepoint of their own.

    The charge and its invoice commit together; yet a fault in invoicing never undoes a payment the
    gateway already took: the charge stands, the fault is logged, and staff issue the invoice again.
    Should the batch fail, each charge is tried alone, so one faulty invoice leaves only its own charge
    without one. (No number left for the period is not a fault: the invoice waits as number pending.)
    """
    each_alone_on_failure(charges, _issue_in_a_savepoint, _not_issued, what="charges' invoices")


def _issue_in_a_savepoint(charges: list) -> None:
    with transaction.atomic():
        invoices_issue(charges=charges, plan_names=plan_names_on_invoices())


def _not_issued(charge, error: Exception) -> None:
    logger.exception("invoice not issued for charge %s", charge.pk)


def plan_names_on_invoices() -> dict[str, str]:
    """The plans' names as invoices print them (in Traditional Chinese, whatever language the buyer reads)."""
    return dict(Plan.objects.values_list("code", "name_zh_hant"))
