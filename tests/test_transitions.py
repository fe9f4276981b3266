"""Every status changes through its model's TRANSITIONS table and `accounts.audit.move_status` (one row)
or `move_statuses` (a queryset): the tables are complete, an illegal move is refused and changes nothing,
and no app module assigns a status any other way (the scan below reads their source)."""

import ast
import re
import textwrap
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from django.apps import apps
from django.db.models import NOT_PROVIDED
from django.utils import timezone

from accounts.audit import move_status, move_statuses, snapshot_all
from accounts.errors import InvalidTransition
from billing.models import Checkout, Renewal, RenewalRun
from invoices.models import EInvoiceMessage, MessageStatus
from payments.models import LinePayRegistration, PaymentMethod, SandboxLinePayTransaction
from promos.models import CodeStatus, PromoCode
from tests.factories import (
    AccountFactory,
    ChargeFactory,
    CodeBatchFactory,
    ExtraMessagesBillFactory,
    InvoiceFactory,
    MessagingChannelFactory,
    PaymentMethodFactory,
    PromoCodeFactory,
    RefundFactory,
    SubscriptionFactory,
    UserFactory,
    plan,
)

ROOT = Path(__file__).resolve().parent.parent
# What the scan leaves out: the tests and benchmarks set up rows in any state, and migrations are history;
# mutants/ is mutmut's mutated copy of the project (`make mutation`), left for `mutmut show`.
NOT_SCANNED = {"tests", "bench", "migrations", ".venv", "mutants"}
# The one function of each kind that may write a status.
ALLOWED = {("accounts/audit.py", "move_status"), ("accounts/audit.py", "move_statuses")}
WRITING_METHODS = {"update", "create", "get_or_create", "update_or_create", "bulk_create"}
DEFAULTS_KEYWORDS = {None, "defaults", "create_defaults"}  # None: `**{"status": ...}`
RAW_SQL_STATUS = re.compile(r"\b(SET\b[^;]*\bstatus\b\W*=|INSERT\s+INTO\b[^;]*\bstatus\b)", re.IGNORECASE)


def status_models() -> list:
    """The project's models with a status field (not Django's or a library's)."""
    return [
        model
        for model in apps.get_models()
        if Path(model._meta.app_config.path).is_relative_to(ROOT)
        and any(field.name == "status" for field in model._meta.concrete_fields)
    ]


# ---- the scan -------------------------------------------------------------------------------------


class StatusWrites(ast.NodeVisitor):
    """Finds each place in a module that writes a status other than through the allowed functions."""

    def __init__(self, path: str, model_names: set[str]):
        self.path, self.model_names = path, model_names
        self.functions: list[str] = []
        self.found: list[tuple[int, str]] = []

    def allowed(self) -> bool:
        return any((self.path, name) in ALLOWED for name in self.functions)

    def report(self, node: ast.AST, what: str) -> None:
        if not self.allowed():
            self.found.append((node.lineno, what))

    def visit_FunctionDef(self, node):
        self.functions.append(node.name)
        self.generic_visit(node)
        self.functions.pop()

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Attribute(self, node):
        if node.attr == "status" and isinstance(node.ctx, ast.Store | ast.Del):
            self.report(node, "assigns .status")
        self.generic_visit(node)

    def visit_Subscript(self, node):
        # obj.__dict__["status"] = ...
        if (
            isinstance(node.ctx, ast.Store)
            and isinstance(node.value, ast.Attribute)
            and node.value.attr == "__dict__"
            and isinstance(node.slice, ast.Constant)
            and node.slice.value == "status"
        ):
            self.report(node, "assigns __dict__['status']")
        self.generic_visit(node)

    def visit_Call(self, node):
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
        if name == "setattr" and len(node.args) > 1 and self.is_status(node.args[1]):
            self.report(node, "setattr(..., 'status', ...)")
        if name in WRITING_METHODS or name in self.model_names:
            for keyword in node.keywords:
                if keyword.arg == "status":
                    self.report(keyword.value, f"status= in {name}(...)")
                elif self.is_dict_with_status(keyword.value) and keyword.arg in DEFAULTS_KEYWORDS:
                    self.report(keyword.value, f"a 'status' key in {name}(...)")
        self.generic_visit(node)

    def visit_Constant(self, node):
        if isinstance(node.value, str) and RAW_SQL_STATUS.search(node.value):
            self.report(node, "writes status in SQL")

    @staticmethod
    def is_status(node) -> bool:
        return isinstance(node, ast.Constant) and node.value == "status"

    @classmethod
    def is_dict_with_status(cls, node) -> bool:
        return isinstance(node, ast.Dict) and any(cls.is_status(key) for key in node.keys)


def status_writes(source: str, path: str, model_names: set[str]) -> list[tuple[int, str]]:
    visitor = StatusWrites(path, model_names)
    visitor.visit(ast.parse(source, filename=path))
    return visitor.found


def app_sources():
    for path in sorted(ROOT.rglob("*.py")):
        relative = path.relative_to(ROOT)
        if not NOT_SCANNED & set(relative.parts) and not relative.parts[0].startswith("."):
            yield relative.as_posix(), path.read_text(encoding="utf-8")


def test_no_app_module_writes_a_status_but_through_move_status():
    # given every module of the apps, the settings and the commands
    names = {model.__name__ for model in status_models()}
    sources = list(app_sources())
    # when each is scanned
    found = [f"{path}:{line}: {what}" for path, source in sources for line, what in status_writes(source, path, names)]
    # then none writes a status itself
    assert {path.split("/")[0] for path, _source in sources} >= {
        "accounts",
        "billing",
        "payments",
        "promos",
        "invoices",
        "usage",
    }
    assert found == [], "a status is written outside accounts.audit.move_status(es):\n" + "\n".join(found)


def test_the_scan_finds_every_way_of_writing_a_status():
    # given a module that writes statuses in each way the scan knows, and reads them in others
    source = textwrap.dedent("""
        def writes(renewal, rows, cursor):
            renewal.status = "failed"
            renewal.status, renewal.attempts = "failed", 2
            setattr(renewal, "status", "failed")
            renewal.__dict__["status"] = "failed"
            rows.update(status="failed")
            rows.update(**{"status": "failed"})
            Renewal.objects.create(subscription=None, status="renewed")
            Renewal(status="renewed")
            Renewal.objects.update_or_create(pk=1, defaults={"status": "renewed"})
            cursor.execute("UPDATE billing_renewal SET attempts = 2, status = 'failed'")

        def reads(renewal, rows):
            rows.filter(status="failed").exclude(status="renewed")
            Terms(status=renewal.status)
            return renewal.status == "failed"

        def move_status(renewal):
            renewal.status = "failed"
    """)
    # when it is scanned as an app module
    found = status_writes(source, "billing/example.py", {"Renewal"})
    # then each write is named with its line, the reads are not, and move_status is only allowed in accounts.audit
    assert [line for line, _what in found] == [3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 20]
    assert status_writes(source, "accounts/audit.py", {"Renewal"})[-1][0] == 12


# ---- the tables -----------------------------------------------------------------------------------


def test_every_model_with_a_status_has_a_complete_table():
    models = status_models()
    assert {model.__name__ for model in models} >= {
        "Subscription",
        "Checkout",
        "RenewalRun",
        "Renewal",
        "PaymentMethod",
        "Charge",
        "Refund",
        "LinePayRegistration",
        "SandboxLinePayTransaction",
        "CodeBatch",
        "PromoCode",
        "Invoice",
    }
    for model in models:
        field = model._meta.get_field("status")
        table = model.TRANSITIONS
        targets = set().union(*table.values())
        # every state has a row, every move leads to a state, and a new row starts in one
        if field.choices:
            assert set(table) == {value for value, _label in field.choices}, model
        assert targets <= set(table), model
        assert field.default is not NOT_PROVIDED and field.default in table, model
        assert all(state not in table[state] for state in table), model  # staying put is not a move


# ---- illegal moves are refused and change nothing -------------------------------------------------


def subscription(status):
    return SubscriptionFactory(status=status)


def checkout(status):
    account = SubscriptionFactory().account
    return Checkout.objects.create(account=account, user=UserFactory(), target_plan=plan("medium"), status=status)


def renewal_run(status):
    return RenewalRun.objects.create(
        command="renew_subscriptions", as_of=timezone.now(), host="test", pid=1, status=status
    )


def renewal(status):
    return Renewal.objects.create(
        subscription=SubscriptionFactory(), period_start=date(2026, 2, 1), plan=plan("light"), status=status
    )


def payment_method(status):
    return PaymentMethodFactory(status=status, is_main=status == "active")


def charge(status):
    return ChargeFactory(status=status)


def refund(status):
    return RefundFactory(status=status)


def linepay_registration(status):
    account = AccountFactory()
    return LinePayRegistration.objects.create(account=account, order_id=f"reg-{account.pk}", status=status)


def sandbox_linepay_transaction(status):
    number = SandboxLinePayTransaction.objects.count() + 1
    return SandboxLinePayTransaction.objects.create(
        transaction_id=f"{number:019d}",
        order_id=f"order-{number}",
        amount=1,
        confirm_url="/c",
        cancel_url="/x",
        status=status,
    )


def code_batch(status):
    return CodeBatchFactory(status=status, made=10 if status == "complete" else 0)


def promo_code(status):
    if status == CodeStatus.REGISTERED:
        return PromoCodeFactory(status=status, registered_account=AccountFactory(), registered_at=timezone.now())
    if status == CodeStatus.HELD:
        return PromoCodeFactory(status=status, held_for=ChargeFactory(status="pending"))
    return PromoCodeFactory(status=status)


def invoice(status):
    return InvoiceFactory(status=status, number=None) if status == "pending" else InvoiceFactory(status=status)


def einvoice_message(status):
    """A message in `status`, with the times and the Turnkey file its table's constraints ask of that state."""
    invoice, now = InvoiceFactory(), timezone.now()
    return EInvoiceMessage.objects.create(
        kind="F0401",
        period=invoice.period,
        subject=invoice.number,
        invoice=invoice,
        event_at=now,
        due_on=date(2026, 1, 7),
        status=status,
        exported_at=None if status == MessageStatus.PENDING else now,
        uploaded_at=now if status == MessageStatus.UPLOADED else None,
        file_name="" if status == MessageStatus.PENDING else f"F0401_{invoice.number}.xml",
        written_at=None if status == MessageStatus.PENDING else now,
    )


ROWS = {
    "Subscription": subscription,
    "Checkout": checkout,
    "RenewalRun": renewal_run,
    "Renewal": renewal,
    "PaymentMethod": payment_method,
    "Charge": charge,
    "Refund": refund,
    "LinePayRegistration": linepay_registration,
    "SandboxLinePayTransaction": sandbox_linepay_transaction,
    "CodeBatch": code_batch,
    "PromoCode": promo_code,
    "Invoice": invoice,
    "MessagingChannel": lambda status: MessagingChannelFactory(status=status),
    "ExtraMessagesBill": lambda status: ExtraMessagesBillFactory(status=status),
    "EInvoiceMessage": einvoice_message,
}


def test_every_model_with_a_status_is_tried_below():
    assert set(ROWS) == {model.__name__ for model in status_models()}


@pytest.mark.django_db
@pytest.mark.parametrize("model_name", sorted(ROWS))
def test_an_illegal_move_is_refused_and_changes_nothing(model_name):
    model = apps.get_model(next(m._meta.label for m in status_models() if m.__name__ == model_name))
    for state, allowed in model.TRANSITIONS.items():
        # given a row in this state
        row = ROWS[model_name](state)
        row.refresh_from_db()  # as the database gives it back (dates in UTC)
        saved = snapshot_all(row)
        for target in [*sorted(set(model.TRANSITIONS) - allowed), "no-such-state"]:
            # when it is moved where its table does not lead
            with pytest.raises(InvalidTransition):
                move_status(row, target)
            # then neither the row in memory nor the one in the database changed
            assert row.status == state
            row.refresh_from_db()
            assert snapshot_all(row) == saved
        # and in one UPDATE, from its state, neither
        for target in sorted(set(model.TRANSITIONS) - allowed):
            with pytest.raises(InvalidTransition):
                move_statuses(model.objects.filter(pk=row.pk), from_statuses=[state], to_status=target)
            row.refresh_from_db()
            assert snapshot_all(row) == saved
        # while each move the table allows is taken
        for target in allowed:
            row.status = state
            move_status(row, target)
            assert row.status == target


@pytest.mark.django_db
def test_a_bulk_move_is_checked_against_every_state_it_moves_from():
    # given an available and a registered code
    available = PromoCodeFactory()
    registered = promo_code(CodeStatus.REGISTERED)
    codes = PromoCode.objects.filter(pk__in=[available.pk, registered.pk])
    # when a move allowed from one of the states but not the other is asked for both
    with pytest.raises(InvalidTransition):
        move_statuses(codes, from_statuses=[CodeStatus.AVAILABLE, CodeStatus.HELD], to_status=CodeStatus.VOID)
    # then nothing moved
    assert sorted(codes.values_list("status", flat=True)) == [CodeStatus.AVAILABLE, CodeStatus.REGISTERED]
    # and a move from no state at all is refused too
    with pytest.raises(InvalidTransition):
        move_statuses(codes, from_statuses=[], to_status=CodeStatus.EXPIRED)


@pytest.mark.django_db
def test_a_bulk_move_moves_only_the_rows_in_the_states_it_was_checked_for():
    # given an available and a registered code
    available = PromoCodeFactory()
    registered = promo_code(CodeStatus.REGISTERED)
    codes = PromoCode.objects.filter(pk__in=[available.pk, registered.pk])
    # when the available ones expire
    moved = move_statuses(codes, from_statuses=[CodeStatus.AVAILABLE], to_status=CodeStatus.EXPIRED)
    # then only that one moved
    assert moved == 1
    assert PromoCode.objects.get(pk=available.pk).status == CodeStatus.EXPIRED
    assert PromoCode.objects.get(pk=registered.pk).status == CodeStatus.REGISTERED


@pytest.mark.django_db
def test_a_row_recorded_without_a_status_starts_in_its_first_state():
    # given rows recorded as the services record them, naming no status
    account = SubscriptionFactory().account
    new_renewal = Renewal(subscription=account.subscription, period_start=date(2026, 2, 1), plan=plan("light"))
    new_checkout = Checkout(account=account, user=UserFactory(), target_plan=plan("medium"))
    run = RenewalRun(command="renew_subscriptions", as_of=datetime(2026, 2, 1, tzinfo=UTC), host="h", pid=1)
    method = PaymentMethod(account=account)
    # then each starts where its table begins
    assert (new_renewal.status, new_checkout.status, run.status, method.status) == (
        "charging",
        "open",
        "running",
        "active",
    )
