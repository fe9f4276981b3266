"""One saved row of every model the staff admin shows, for tests that open or post each admin page, and the
requests those tests make: an admin URL, an action posted on rows, the messages a response leaves."""

from datetime import date

from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount, SocialApp, SocialToken
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone

from accounts.models import UserPreference
from billing.models import BillingReminder, RenewalRun, UsageNotice
from invoices.models import Allowance, MigMessage
from payments.models import LinePayRegistration
from promos.models import CodeGuess
from tests import factories
from tests.helpers import new_admin, start_checkout


def _renewal_run():
    return RenewalRun.objects.create(command="renew_subscriptions", as_of=timezone.now(), host="test", pid=1)


def _renewal():
    return factories.RenewalFactory(failed=True, period_start=date(2026, 2, 1))


def _checkout():
    return start_checkout(new_admin())


def _allowance():
    return Allowance.objects.create(
        invoice=factories.InvoiceFactory(),
        number="AB00000001",
        period="11502",
        reason="折讓",
        sales_twd=100,
        tax_twd=5,
        total_twd=105,
    )


def _social_account():
    return SocialAccount.objects.create(user=factories.UserFactory(), provider="line", uid="U1234567890")


def _social_token():
    app = SocialApp.objects.create(provider="line", name="LINE", client_id="1234567890", secret="not-a-secret")
    return SocialToken.objects.create(app=app, account=_social_account(), token="not-a-token")


MAKERS = {
    "auth.group": lambda: Group.objects.create(name="billing staff"),
    "auth.user": factories.UserFactory,
    "accounts.officialaccount": factories.AccountFactory,
    "billing.plan": lambda: factories.plan("medium"),
    "billing.planprice": factories.PlanPriceFactory,
    "billing.subscription": factories.SubscriptionFactory,
    "billing.planchange": factories.PlanChangeFactory,
    "usage.monthlyusage": factories.MonthlyUsageFactory,
    "usage.dailyusage": factories.DailyUsageFactory,
    "usage.messagekind": lambda: factories.message_kind("apiPush"),
    "usage.messagingchannel": factories.MessagingChannelFactory,
    "accounts.auditrecord": factories.AuditRecordFactory,
    "billing.checkout": _checkout,
    "billing.renewalrun": _renewal_run,
    "billing.renewal": _renewal,
    "billing.extramessagesbill": factories.ExtraMessagesBillFactory,
    "billing.billingreminder": lambda: BillingReminder.objects.create(
        account=factories.AccountFactory(), kind="card", renewal_on=date(2026, 7, 1), subject="method:1"
    ),
    "billing.usagenotice": lambda: UsageNotice.objects.create(
        account=factories.AccountFactory(), month=date(2026, 11, 1), threshold="quota_80", billed_messages=2400
    ),
    "accounts.userpreference": lambda: UserPreference.objects.create(user=factories.UserFactory(), language="en"),
    "payments.paymentmethod": factories.PaymentMethodFactory,
    "payments.charge": factories.ChargeFactory,
    "payments.refund": factories.RefundFactory,
    "payments.linepayregistration": lambda: LinePayRegistration.objects.create(
        account=factories.AccountFactory(), order_id="reg-1-0123456789abcdef", transaction_id="2026010112345678901"
    ),
    "promos.campaign": factories.CampaignFactory,
    "promos.codebatch": factories.CodeBatchFactory,
    "promos.promocode": factories.PromoCodeFactory,
    "promos.redemption": factories.RedemptionFactory,
    "promos.codeguess": lambda: CodeGuess.objects.create(account=factories.AccountFactory(), client="127.0.0.1"),
    "invoices.einvoiceprofile": factories.EInvoiceProfileFactory,
    "invoices.invoicenumberrange": factories.InvoiceNumberRangeFactory,
    "invoices.invoice": factories.InvoiceFactory,
    "invoices.allowance": _allowance,
    "invoices.migmessage": lambda: MigMessage.objects.create(
        kind="F0401",
        number="AB00000001",
        invoice=factories.InvoiceFactory(),
        file_name="F0401_AB00000001.xml",
        written_at=timezone.now(),
    ),
    "account.emailaddress": lambda: EmailAddress.objects.create(user=factories.UserFactory(), email="a@example.tw"),
    "socialaccount.socialapp": lambda: SocialApp.objects.create(provider="line", name="LINE", client_id="1234567890"),
    "socialaccount.socialaccount": _social_account,
    "socialaccount.socialtoken": _social_token,
    "axes.accessattempt": lambda: AccessAttempt.objects.create(
        username="admin", ip_address="127.0.0.1", failures_since_start=3
    ),
    "axes.accesslog": lambda: AccessLog.objects.create(username="admin", ip_address="127.0.0.1"),
    "axes.accessfailurelog": lambda: AccessFailureLog.objects.create(username="admin", ip_address="127.0.0.1"),
}


def one_row_of(model):
    """A saved row of `model`; a KeyError names a model newly in the admin that needs a maker here."""
    return MAKERS[model._meta.label_lower]()


def admin_url(model, view: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def post_action(client, model, action: str, rows, **extra):
    data = {"action": action, "_selected_action": [row.pk for row in rows], **extra}
    return client.post(admin_url(model, "changelist"), data)


def messages_of(response) -> list[tuple[int, str]]:
    return [(message.level, str(message)) for message in response.wsgi_request._messages]
