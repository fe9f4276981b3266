"""Monthly renewals, retries and dunning (SPEC §2–3, §8), run by cron through management commands.

Exactly once: a Renewal row is unique per subscription and new period, and its charge's idempotency
key (which is also the gateway's order ID) is unique per attempt. Renewals go in batches through
three short steps and never hold a transaction across the gateway:

1. claim: lock the batch's subscriptions (SKIP LOCKED, so parallel runs share the work), read what
   pricing needs in one query per table, price each renewal with billing.pricing, and record each
   Renewal as `charging` with its pending charge and held code (renewals that cost nothing, or that
   cannot be charged, are settled here);
2. charge: send the batch's charges to the gateway, outside any transaction;
3. settle: the answers become new periods, or failures with their next retry day.

A process killed between 1 and 3 leaves `charging` renewals. The next run reads those orders back
from the gateway (`charge_status`) and settles them, charging only an order the gateway never saw.
A batch of one is the same code: retries and the admin's retry action use it.
"""

from billing.renewals.batches import renew_batch, renew_subscription, renewals_settle
from billing.renewals.quotes import NextCharge, next_charge, renewal_quotes
from billing.renewals.recovery import renewal_recover, renewals_in_doubt
from billing.renewals.retries import failed_renewal_of, renewal_pay_now, renewal_retry, retries_due
from billing.renewals.runs import Totals, plans_by_pk, run_finish, run_start, subscriptions_due

__all__ = [
    "NextCharge",
    "Totals",
    "failed_renewal_of",
    "next_charge",
    "plans_by_pk",
    "renew_batch",
    "renew_subscription",
    "renewal_pay_now",
    "renewal_quotes",
    "renewal_recover",
    "renewal_retry",
    "renewals_in_doubt",
    "renewals_settle",
    "retries_due",
    "run_finish",
    "run_start",
    "subscriptions_due",
]
