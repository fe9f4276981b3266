"""The sandbox gateway's own pages: what stands in for TapPay's hosted fields and for the LINE app.

They belong to the gateway, not to us, so they extend none of our templates, and our side sees only
what a real gateway hands back: a one-time card token posted to the parent page, or a redirect to
our confirm or cancel URL with `transactionId` and `orderId`, as LINE Pay v3 does.
"""

from datetime import timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import segno
from django.db import transaction
from django.http import HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_http_methods

from accounts.audit import move_status
from accounts.http import opener_policy
from payments.gateways.sandbox import LINEPAY_CARD_BY_MASK, LINEPAY_CARDS, CardError, tokenise_card
from payments.models import SandboxLinePayTransaction

TEST_CARDS_HINT = [
    ("4242 4242 4242 4242", gettext_lazy("success")),
    ("4000 0000 0000 0002", gettext_lazy("declined")),
    ("4000 0000 0000 9995", gettext_lazy("insufficient funds")),
    ("4000 0000 0000 0069", gettext_lazy("expired card")),
]
# The input each CardError code is shown next to.
ERROR_INPUT = {"number": "number", "brand": "number", "expiry": "expiry", "expiry_format": "expiry", "cvc": "cvc"}
# LINE Pay's payment URL lives 20 minutes: after that the transaction reads 0121 ("cancelled by the user
# or timed out", Check Payment Status) and the user is sent to the cancel URL, whatever they chose.
APPROVAL_TIMEOUT = timedelta(minutes=20)
HANDLED = {
    "approved": gettext_lazy("This payment has already been approved."),
    "confirmed": gettext_lazy("This payment has already been approved."),
    "cancelled": gettext_lazy("This payment has been cancelled."),
    "expired": gettext_lazy("This payment request has expired."),
}


# ---- hosted card fields -----------------------------------------------------------------------


@sensitive_variables("number", "expiry", "cvc")
@sensitive_post_parameters("number", "cvc", "expiry")
@xframe_options_sameorigin
@never_cache
@require_http_methods(["GET", "POST"])
def card_fields(request):
    """The card form shown in an iframe on our card page. The number stops here: never logged nor kept.

    The page's script posts the fields (form-encoded, so the error reports' POST filter applies) and
    gets JSON; a plain form post gets the page back, whose script then hands the token over.
    """
    if request.method == "GET":
        return _card_fields_page(request)
    number, expiry, cvc = (request.POST.get(name, "") for name in ("number", "expiry", "cvc"))
    try:
        card = tokenise_card(number=number, expiry=expiry, cvc=cvc, today=timezone.localdate())
    except CardError as error:
        answer = {"error": str(error.message), "field": error.code}
        return _card_fields_page(request, answer, status=400) if _wants_html(request) else _json(answer, 400)
    answer = {"token": card.one_time_token, "brand": card.brand, "last_four": card.last_four}
    return _card_fields_page(request, answer) if _wants_html(request) else _json(answer, 200)


def _wants_html(request) -> bool:
    """A browser's own form post asks for HTML; the page's fetch (and a test client) do not."""
    return "text/html" in request.headers.get("Accept", "")


def _json(answer: dict, status: int) -> JsonResponse:
    return JsonResponse(answer, status=status)


def _card_fields_page(request, answer: dict | None = None, status: int = 200):
    answer = answer or {}
    context = {"test_cards": TEST_CARDS_HINT, "answer": answer, "error_input": ERROR_INPUT.get(answer.get("field"))}
    return render(request, "sandbox/card_fields.html", context, status=status)


# ---- LINE Pay approval (the "LINE app") -------------------------------------------------------


@require_http_methods(["GET", "POST"])
@opener_policy("unsafe-none")  # as LINE Pay's page: no isolation, so the pop-up keeps its opener
def linepay_approval(request, transaction_id: str):
    """LINE Pay's pop-up: a QR code for the phone, and what the phone shows in two screens, as LINE's guide
    walks them: choose the card bound to LINE Pay > 下一步 (`next`), then 確認資訊 > 新增 (`confirm`); or cancel."""
    tx = get_object_or_404(SandboxLinePayTransaction, transaction_id=transaction_id)
    if request.method == "GET":
        return _approval_page(request, tx)
    action = request.POST.get("action")
    if action not in ("next", "confirm", "cancel"):
        return _approval_page(request, tx, error=_("Choose confirm or cancel."), status=400)
    card = request.POST.get("card", "")
    if action in ("next", "confirm") and card not in LINEPAY_CARD_BY_MASK:
        return _approval_page(request, tx, error=_("Choose a card to pay with."), status=400)
    if action == "next":
        return _approval_page(request, tx, step="confirm")
    return _decide(tx, action, card)


def _decide(tx: SandboxLinePayTransaction, action: str, card: str) -> HttpResponseRedirect:
    """Record the user's choice once. A second post (a double click) gets the redirect of the first choice."""
    with transaction.atomic():
        tx = SandboxLinePayTransaction.objects.select_for_update().get(pk=tx.pk)
        if tx.status == "requested":
            if _timed_out(tx):
                move_status(tx, "expired")  # LINE Pay's 0121: timed out, treated as a cancellation
            elif action == "confirm":
                move_status(tx, "approved")
                tx.card = card
            else:
                move_status(tx, "cancelled")
            tx.save(update_fields=["status", "card"])
    url = tx.confirm_url if tx.status in ("approved", "confirmed") else tx.cancel_url
    return HttpResponseRedirect(with_query(url, transactionId=tx.transaction_id, orderId=tx.order_id))


def _timed_out(tx: SandboxLinePayTransaction) -> bool:
    return timezone.now() - tx.created_at > APPROVAL_TIMEOUT


def _approval_page(request, tx: SandboxLinePayTransaction, *, error: str = "", status: int = 200, step: str = "card"):
    handled = HANDLED.get(tx.status) or (HANDLED["expired"] if _timed_out(tx) else "")
    context = {
        "tx": tx,
        "amount": f"NT${tx.amount:,}",
        "cards": LINEPAY_CARDS,
        "chosen": request.POST.get("card", ""),
        "qr": mark_safe(segno.make(request.build_absolute_uri()).svg_inline(scale=4)),  # noqa: S308 (segno's SVG)
        "handled": handled,
        "error": error,
        "step": step,
    }
    return render(request, "sandbox/linepay_approval.html", context, status=status)


def with_query(url: str, **params: str) -> str:
    """`url` with `params` appended to whatever query it already has."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit(parts._replace(query=urlencode(query)))
