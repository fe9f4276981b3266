"""Demo data for a first look (SPEC §8): logins, accounts in every onboarding state, a campaign with codes.

Idempotent: what exists is left alone, so a second run changes nothing. It creates known passwords,
so it refuses to run with DEBUG off unless --force is given.
"""

import random
from dataclasses import dataclass
from datetime import datetime, time

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from accounts.audit import move_status, move_statuses
from accounts.models import OfficialAccount, Region
from accounts.periods import BILLING_TZ, local_date, month_start, period_start_at, previous_month_start
from billing.models import Plan, Renewal, Subscription
from billing.refunds import charge_refund_through_gateway
from billing.renewals import Totals, renew_subscription
from billing.services import account_create, subscription_set_extra_message_cap
from invoices.issuing import invoice_period
from invoices.models import InvoiceNumberRange, ProfileKind
from invoices.selectors import cardholder_of, has_einvoice_profile
from invoices.services import einvoice_profile_save, invoice_number_range_create
from payments.gateways.sandbox import LINEPAY_CARDS, tokenise_card
from payments.models import SandboxLinePayTransaction
from payments.services import card_add, linepay_registration_confirm, linepay_registration_start
from promos.models import Campaign, CodeStatus
from promos.services import promo_codes_generate
from usage.models import ChannelStatus, DailyUsage, MessageKind, MessagingChannel, MonthlyUsage, UsageSource
from usage.tokens import token_encrypt

# username, password (demo only, printed on every run), staff
LOGINS = [
    ("staff", "demo-staff-2026", True),
    ("admin", "demo-admin-2026", False),
    ("operator", "demo-operator-2026", False),
]
CAMPAIGN = "Demo NT$1,200 優惠活動代碼"
EXPIRED_CAMPAIGN = "Demo expired 已過期的優惠活動"
CAMPAIGN_CODES = 50
EXPIRED_CODES = 5


# A day's messages by kind, around which each demo account's days vary (SPEC §7: the first kinds are billed).
USAGE = {
    "high": {"broadcast": 120, "apiPush": 420, "targeting": 90, "apiReply": 260, "autoResponse": 40, "chat": 25},
    "medium": {"broadcast": 40, "apiPush": 50, "apiReply": 120, "autoResponse": 30, "chat": 10},
    "light": {"apiPush": 3, "apiReply": 70, "autoResponse": 20, "welcomeResponse": 4, "chat": 6},
}
PAST_MONTHS = 5
# This month's billed total so far, as LINE's consumption says it (the fake channel's, or staff's): whatever day
# `make run` starts on, High is over its free quota, Medium near its quota, Light well within it.
THIS_MONTH = {"high": 9_400, "medium": 2_650, "light": 170}


@dataclass(frozen=True)
class DemoAccount:
    basic_id: str
    name: str
    plan: str
    setup: str  # "new": nothing; "invoice": e-invoice info only; "card" / "linepay": ready to pay
    region: str = Region.TAIWAN
    operator: bool = False
    extra_message_cap: int | None = None  # High only: the most extra messages a month
    channel: bool = False  # a (fake) connected Messaging API channel


# Every onboarding state on the light plan, where upgrades start; paid plans are always ready to pay.
ACCOUNTS = [
    DemoAccount("@demo-light-new", "示範小店 輕用量 (未登錄)", "light", "new", operator=True),
    DemoAccount("@demo-light-inv", "示範小店 輕用量 (已登錄發票)", "light", "invoice"),
    DemoAccount("@demo-light-card", "示範小店 輕用量 (信用卡)", "light", "card", operator=True),
    DemoAccount("@demo-light-lp", "示範小店 輕用量 (LINE Pay)", "light", "linepay"),
    DemoAccount("@demo-medium", "示範小店 中用量", "medium", "card", operator=True),
    DemoAccount("@demo-medium-lp", "示範小店 中用量 (LINE Pay)", "medium", "linepay"),
    DemoAccount("@demo-high", "示範小店 高用量", "high", "card", extra_message_cap=10_000, channel=True),
    DemoAccount("@demo-jp", "Demo shop Japan", "medium", "card", region=Region.JAPAN),
]


class Command(BaseCommand):
    help = "Create demo logins, official accounts and promo codes (idempotent; needs DEBUG or --force)."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="Run even with DEBUG off (known passwords!).")

    def handle(self, *args, force, **options):
        if not settings.DEBUG and not force:
            raise CommandError("seed_demo creates users with known passwords: it runs only with DEBUG on, or --force.")
        with transaction.atomic():
            users = {username: demo_user(username, password, staff) for username, password, staff in LOGINS}
            accounts = [demo_account(spec, users) for spec in ACCOUNTS]
            for spec, account in zip(ACCOUNTS, accounts, strict=True):
                demo_usage(spec, account)
            campaign = demo_campaigns(actor=users["staff"])
            demo_number_range(actor=users["staff"])
            for spec, account in zip(ACCOUNTS, accounts, strict=True):
                demo_renewal(spec, account, staff=users["staff"])
        self.report(accounts, campaign)

    def report(self, accounts, campaign):
        self.stdout.write("Logins (demo only):")
        for username, password, _staff in LOGINS:
            self.stdout.write(f"  {username:<9} {password}")
        self.stdout.write("Official accounts:")
        for account in accounts:
            self.stdout.write(
                f"  {account.basic_id:<17} {account.region}  {account.subscription.plan.code:<6}  "
                f"{onboarding(account):<36} {account.name}"
            )
        self.stdout.write(f"Available codes of campaign {campaign.pk} “{campaign.name}”:")
        for code in campaign.codes.filter(status=CodeStatus.AVAILABLE).order_by("pk")[:5]:
            self.stdout.write(f"  {code.display_code}")


def demo_number_range(*, actor) -> None:
    """A 字軌 for this two-month period, so that the demo's paid charges get invoice numbers."""
    period = invoice_period(timezone.localdate())
    if not InvoiceNumberRange.objects.filter(period=period).exists():
        invoice_number_range_create(period=period, prefix="DM", first_number=1, last_number=9999, actor=actor)


def demo_renewal(spec: DemoAccount, account: OfficialAccount, *, staff) -> None:
    """This month's renewal of a paid account, as the run on the 1st made it, once: the fee charged to the sandbox
    card (on High with last month's extra messages, from LINE's final figure, under the cap) and its invoice, so
    付款紀錄, 訊息用量 and the staff's period export have a month to show. @demo-medium's was refunded NT$100 in part
    since (an allowance)."""
    subscription = account.subscription
    this_month = month_start(timezone.localdate())
    if spec.plan == "light" or spec.setup != "card" or Renewal.objects.filter(subscription=subscription).exists():
        return
    Subscription.objects.filter(pk=subscription.pk).update(period_start=previous_month_start(this_month))
    first = datetime.combine(this_month, time(0, 5), tzinfo=BILLING_TZ)
    renew_subscription(subscription_id=subscription.pk, as_of=first, run=None, totals=Totals())
    renewal = Renewal.objects.select_related("charge").get(subscription=subscription)
    if spec.basic_id == "@demo-medium" and renewal.charge is not None:
        charge_refund_through_gateway(charge=renewal.charge, amount_twd=100, reason="示範：部分退款", actor=staff)


def demo_user(username: str, password: str, staff: bool):
    user, created = get_user_model().objects.get_or_create(
        username=username,
        defaults={"email": f"{username}@example.tw", "is_staff": staff, "is_superuser": staff},
    )
    if created:
        user.set_password(password)
        user.save(update_fields=["password"])
    return user


def demo_account(spec: DemoAccount, users: dict) -> OfficialAccount:
    account = OfficialAccount.objects.filter(basic_id=spec.basic_id).first()
    if account is None:
        account = account_create(
            name=spec.name,
            basic_id=spec.basic_id,
            region=spec.region,
            plan=Plan.objects.get(code=spec.plan),
            actor=users["staff"],
            admins=[users["admin"]],
            operators=[users["operator"]] if spec.operator else [],
        )
    if spec.setup != "new" and not has_einvoice_profile(account):
        profile = {"kind": ProfileKind.PRINTED, "name": "王小明", "email": f"{spec.basic_id[1:]}@example.tw"}
        einvoice_profile_save(account=account, data=profile, actor=users["admin"])
    if spec.setup in {"card", "linepay"} and not account.payment_methods.exists():
        add_sandbox_method(account, spec.setup, actor=users["admin"])
    if spec.extra_message_cap and account.subscription.extra_message_cap is None:
        subscription_set_extra_message_cap(
            subscription=account.subscription, cap=spec.extra_message_cap, actor=users["admin"]
        )
    return account


def demo_usage(spec: DemoAccount, account: OfficialAccount) -> None:
    """This month's days by kind up to yesterday, and the months before as LINE's final totals, once. The High
    account goes over its free quota, the Medium one nears it, the Light ones send mostly replies (free)."""
    if DailyUsage.objects.filter(account=account).exists():
        return
    today = local_date(timezone.now())
    kinds = {kind.code: kind for kind in MessageKind.objects.all()}
    jitter = random.Random(spec.basic_id)  # noqa: S311 - demo figures, not a secret
    per_day = USAGE[spec.plan]
    DailyUsage.objects.bulk_create(
        DailyUsage(
            account=account,
            day=day,
            kind=kinds[code],
            count=round(mean * jitter.uniform(0.6, 1.4)),
            source=UsageSource.API if spec.channel else UsageSource.STAFF,
            final=True,
        )
        for day in (today.replace(day=n) for n in range(1, today.day))
        for code, mean in per_day.items()
    )
    billed_a_day = sum(mean for code, mean in per_day.items() if kinds[code].billed)
    month = month_start(today)
    MonthlyUsage.objects.create(
        account=account,
        month=month,
        billed_messages=THIS_MONTH[spec.plan],
        source=UsageSource.API if spec.channel else UsageSource.STAFF,
    )
    for _ in range(PAST_MONTHS):
        month = previous_month_start(month)
        MonthlyUsage.objects.create(
            account=account,
            month=month,
            billed_messages=round(billed_a_day * 30 * jitter.uniform(0.7, 1.2)),
            source=UsageSource.API if spec.channel else UsageSource.STAFF,
            final=True,
        )
    if spec.channel and not MessagingChannel.objects.filter(account=account).exists():
        channel = MessagingChannel(
            account=account,
            token_encrypted=token_encrypt("demo-token-not-a-real-channel"),
            bot_basic_id=spec.basic_id,
            bot_name=spec.name,
            connected_at=timezone.now(),
            last_synced_at=timezone.now(),
        )
        move_status(channel, ChannelStatus.CONNECTED)
        channel.save()


def add_sandbox_method(account: OfficialAccount, setup: str, *, actor) -> None:
    """A method added through the sandbox gateway as an admin would, so that it really pays there."""
    if setup == "card":
        card = tokenise_card(number="4242424242424242", expiry="12/30", cvc="123", today=timezone.localdate())
        card_add(account=account, one_time_token=card.one_time_token, actor=actor, cardholder=cardholder_of(account))
        return
    registration, _url = linepay_registration_start(
        account=account, actor=actor, confirm_url=lambda o: "/", cancel_url=lambda o: "/"
    )
    # what the admin does on the approval page: choose the card bound to LINE Pay and confirm
    move_statuses(
        SandboxLinePayTransaction.objects.filter(transaction_id=registration.transaction_id),
        from_statuses=["requested"],
        to_status="approved",
        card=LINEPAY_CARDS[0][0],
    )
    linepay_registration_confirm(registration=registration, transaction_id=registration.transaction_id, actor=actor)


def onboarding(account: OfficialAccount) -> str:
    method = account.payment_methods.filter(is_main=True).first()
    if method is not None:
        return f"ready: {method.label}"
    return "e-invoice info only" if has_einvoice_profile(account) else "nothing registered"


def demo_campaigns(*, actor) -> Campaign:
    """A NT$1,200 campaign running from this month to the end of next year, and one that has expired."""
    this_month = month_start(local_date(timezone.now()))
    current = demo_campaign(
        CAMPAIGN,
        CAMPAIGN_CODES,
        actor=actor,
        valid_from=period_start_at(this_month),
        valid_until=datetime(this_month.year + 1, 12, 31, 23, 59, 59, tzinfo=BILLING_TZ),
    )
    last_year = this_month.year - 1
    demo_campaign(
        EXPIRED_CAMPAIGN,
        EXPIRED_CODES,
        actor=actor,
        valid_from=datetime(last_year, 1, 1, tzinfo=BILLING_TZ),
        valid_until=datetime(last_year, 12, 31, 23, 59, 59, tzinfo=BILLING_TZ),
    )
    return current


def demo_campaign(name: str, codes: int, *, actor, valid_from: datetime, valid_until: datetime) -> Campaign:
    campaign, _created = Campaign.objects.get_or_create(
        name=name, defaults={"valid_from": valid_from, "valid_until": valid_until}
    )
    missing = codes - campaign.codes.count()
    if missing > 0:
        promo_codes_generate(campaign=campaign, count=missing, actor=actor)
    return campaign
