"""Number the current period's number-pending invoices once staff have added a 字軌 range."""

from django.core.management.base import BaseCommand
from django.utils import timezone

from accounts.periods import local_date
from invoices.issuing import invoice_period, invoices_issue_pending
from invoices.models import Invoice, InvoiceStatus


class Command(BaseCommand):
    help = "Give the current period's number-pending invoices their numbers, oldest first (never a duplicate)."

    def handle(self, *args, **options):
        issued = invoices_issue_pending()
        self.stdout.write(f"{issued} invoice(s) numbered.")
        period = invoice_period(local_date(timezone.now()))
        waiting = Invoice.objects.filter(status=InvoiceStatus.NUMBER_PENDING)
        if current := waiting.filter(period=period).count():
            self.stderr.write(f"{current} still wait: add a number range for {period}.")
        if earlier := waiting.exclude(period=period).count():
            self.stderr.write(f"{earlier} of earlier periods wait: staff must decide (a past period takes no numbers).")
