"""The sandbox gateway's own pages: the hosted card fields and the LINE Pay approval page (the "LINE app")."""

import json
import logging
import re
from datetime import timedelta
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pytest
import segno
from django.apps import apps
from django.core import serializers
from django.db import connections
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.views.debug import ExceptionReporter

from payments.gateways import GatewayError, Outcome
from payments.gateways import sandbox as sandbox_module
from payments.gateways.sandbox import SandboxGateway
from payments.models import PaymentMethod, SandboxCard, SandboxLinePayTransaction
from payments.sandbox_views import with_query
from payments.services import linepay_registration_confirm, linepay_registration_start
from tests.factories import SubscriptionFactory

pytestmark = pytest.mark.django_db

CARD_FIELDS = reverse("sandbox:card_fields")
FUTURE = "12/40"
SHOP_CONFIRM = "https://shop.example/linepay/confirm/?step=2"
SHOP_CANCEL = "https://shop.example/linepay/cancel/"
VISA_1111 = "**** **** **** 1111"


@pytest.fixture
def client():
    """Every text assertion reads the English source strings, whatever the catalogues later say."""
    return Client(headers={"accept-language": "en"})


def tokenise(client, number, expiry=FUTURE, cvc="123", **headers):
    return client.post(CARD_FIELDS, {"number": number, "expiry": expiry, "cvc": cvc}, headers=headers)


def linepay_request(order_id="reg-1-0123456789abcdef", confirm_url=SHOP_CONFIRM, cancel_url=SHOP_CANCEL):
    return SandboxGateway().linepay_request(
        order_id=order_id, amount_twd=1, product_name="LINE OA", confirm_url=confirm_url, cancel_url=cancel_url
    )


def approval_url(request):
    return reverse("sandbox:linepay_approval", args=[request.transaction_id])


def query_of(location):
    return {name: values[0] for name, values in parse_qs(urlsplit(location).query).items()}


# ---- hosted card fields -----------------------------------------------------------------------


def test_the_card_fields_page_has_the_inputs_and_may_be_framed_by_our_own_pages_only(client):
    response = client.get(CARD_FIELDS)
    page = response.content.decode()
    assert response.status_code == 200
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert 'name="number"' in page and 'inputmode="numeric"' in page and 'autocomplete="cc-number"' in page
    assert 'name="expiry"' in page and 'placeholder="MM/YY"' in page and 'name="cvc"' in page
    assert ">Confirm</button>" in page
    assert "csrfmiddlewaretoken" in page
    assert "sandbox/card_fields.js" in page
    for number in ("4242 4242 4242 4242", "4000 0000 0000 0002", "4000 0000 0000 9995", "4000 0000 0000 0069"):
        assert f"<code>{number}</code>" in page


def test_the_approval_page_keeps_the_site_wide_framing_refusal(client):
    response = client.get(approval_url(linepay_request()))
    assert response.headers["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize(
    ("number", "brand", "outcome", "method_gone"),
    [
        ("4242 4242 4242 4242", "visa", Outcome.SUCCEEDED, False),
        ("5555555555554444", "mastercard", Outcome.SUCCEEDED, False),
        ("3530111333300000", "jcb", Outcome.SUCCEEDED, False),
        ("4000000000000002", "visa", Outcome.DECLINED, False),
        ("4000000000009995", "visa", Outcome.DECLINED, False),
        ("4000000000000069", "visa", Outcome.DECLINED, True),
    ],
)
def test_each_test_card_tokenises_through_the_view_and_charges_as_documented(
    client, number, brand, outcome, method_gone
):
    # when the hosted fields tokenise the card and our side saves and charges the token
    response = tokenise(client, number)
    answer = response.json()
    saved = SandboxGateway().save_card(one_time_token=answer["token"])
    result = SandboxGateway().charge(
        method=PaymentMethod(kind="card", gateway_token=saved.token),
        amount_twd=840,
        order_id="charge-1",
        description="Medium",
    )
    # then
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "max-age=0, no-cache, no-store, must-revalidate, private"
    assert set(answer) == {"token", "brand", "last_four"}
    assert answer["token"].startswith("sbx_ot_")
    assert (answer["brand"], answer["last_four"]) == (brand, number[-4:])
    assert (saved.brand, saved.last_four, saved.expiry_month, saved.expiry_year) == (brand, number[-4:], 12, 2040)
    assert (result.outcome, result.method_gone) == (outcome, method_gone)


@pytest.mark.parametrize(
    ("card", "field", "message"),
    [
        ({"number": "4242424242424241"}, "number", "The card number is not valid. Check the digits."),
        ({"number": "4242"}, "number", "The card number is not valid. Check the digits."),
        ({"number": ""}, "number", "The card number is not valid. Check the digits."),
        ({"number": "378282246310005"}, "brand", "Only Visa, Mastercard and JCB cards are accepted."),
        ({"expiry": "01/20"}, "expiry", "The expiry date has passed."),
        ({"expiry": "13/30"}, "expiry_format", "Enter the expiry date as MM/YY."),
        ({"expiry": "1230"}, "expiry_format", "Enter the expiry date as MM/YY."),
        ({"cvc": "12"}, "cvc", "The security code (CVC) is the 3 digits on the back of the card."),
        ({"cvc": "12a"}, "cvc", "The security code (CVC) is the 3 digits on the back of the card."),
    ],
)
def test_each_card_error_names_its_own_field_and_makes_no_token(client, card, field, message):
    given = {"number": "4242424242424242", "expiry": FUTURE, "cvc": "123"} | card
    response = tokenise(client, **given)
    assert response.status_code == 400
    assert response.json() == {"error": message, "field": field}
    assert SandboxCard.objects.count() == 0


def test_this_months_expiry_is_still_valid(client):
    this_month = timezone.localdate().strftime("%m/%y")
    assert tokenise(client, "4242424242424242", expiry=this_month).status_code == 200


def test_a_one_time_token_is_saved_once_only(client):
    token = tokenise(client, "4242424242424242").json()["token"]
    SandboxGateway().save_card(one_time_token=token)
    with pytest.raises(GatewayError) as refused:
        SandboxGateway().save_card(one_time_token=token)
    assert refused.value.code == "token"


def test_an_unknown_one_time_token_is_refused():
    with pytest.raises(GatewayError):
        SandboxGateway().save_card(one_time_token="sbx_ot_made_up")


def test_a_plain_form_post_gets_the_page_back_with_the_token_for_the_script_to_hand_over(client):
    response = tokenise(client, "4242424242424242", accept="text/html")
    page = response.content.decode()
    token = SandboxCard.objects.get().one_time_token
    assert response.status_code == 200
    assert f'data-token="{token}"' in page and 'data-last-four="4242"' in page
    assert "4242424242424242" not in page


def test_a_plain_form_post_shows_the_error_next_to_its_input_and_does_not_echo_the_card(client):
    response = tokenise(client, "4242424242424242", expiry="01/20", accept="text/html")
    page = response.content.decode()
    assert response.status_code == 400
    assert 'data-error-for="expiry">The expiry date has passed.</div>' in page
    assert 'data-error-for="number"></div>' in page
    assert "4242424242424242" not in page and "01/20" not in page


def test_the_card_fields_need_the_csrf_token():
    response = Client(enforce_csrf_checks=True).post(CARD_FIELDS, {"number": "4242424242424242"})
    assert response.status_code == 403
    assert SandboxCard.objects.count() == 0


def test_the_card_number_is_in_no_model_row_and_no_log_line(client, caplog, monkeypatch):
    # given every logger at DEBUG, SQL included
    monkeypatch.setattr(connections["default"], "force_debug_cursor", True)
    for name in ("", "django", "django.db.backends", "django.request", "payments"):
        caplog.set_level(logging.DEBUG, logger=name)
    typed, digits = "4000 0000 0000 0002", "4000000000000002"
    # when a card is tokenised, saved, and a bad one refused
    token = tokenise(client, typed, cvc="987").json()["token"]
    SandboxGateway().save_card(one_time_token=token)
    refused = tokenise(client, "4000 0000 0000 0003", cvc="987")
    # then
    rows = "".join(serializers.serialize("json", model.objects.all()) for model in apps.get_models())
    logged = caplog.text + "".join(repr(vars(record)) for record in caplog.records)
    assert "payments_sandboxcard" in caplog.text  # the SQL was captured
    assert "Bad Request: /sandbox/card-fields/" in caplog.text
    assert refused.status_code == 400
    for secret in (digits, typed, "4000000000000003", "4000 0000 0000 0003"):
        assert secret not in rows
        assert secret not in logged
    assert '"last_four": "0002"' in rows


def test_an_error_report_hides_the_card_fields(client, caplog, monkeypatch):
    # given the gateway's database fails while the number is in hand
    def fail(**kwargs):
        raise RuntimeError("the sandbox database is down")

    monkeypatch.setattr(sandbox_module, "SandboxCard", SimpleNamespace(objects=SimpleNamespace(create=fail)))
    client.raise_request_exception = False
    # when
    response = tokenise(client, "4242424242424242", expiry="11/39", cvc="987")
    # then the report a mail to the admins would carry shows none of the three fields
    record = next(record for record in caplog.records if record.name == "django.request")
    reporter = ExceptionReporter(record.request, *record.exc_info, is_email=True)
    report = reporter.get_traceback_text() + reporter.get_traceback_html()
    assert response.status_code == 500
    assert "the sandbox database is down" in report
    assert "********************" in report
    for secret in ("4242424242424242", "11/39"):
        assert secret not in report
    # three digits alone also turn up inside the report's memory addresses: look for the CVC as a value
    for shown in ("'987'", '"987"', "&#x27;987&#x27;", "&quot;987&quot;", "= 987"):
        assert shown not in report


def test_the_card_fields_answer_get_and_post_only(client):
    assert client.put(CARD_FIELDS).status_code == 405


# ---- LINE Pay approval page -------------------------------------------------------------------


def test_the_approval_page_shows_the_qr_code_the_cards_and_the_amount(client):
    response = client.get(approval_url(linepay_request()))
    page = response.content.decode()
    assert response.status_code == 200
    assert "<title>LINE Pay</title>" in page
    assert "<svg" in page
    assert "Open LINE on your phone" in page
    assert '<p class="fs-4 fw-bold mb-1" id="linepay-amount">NT$1</p>' in page
    for masked, brand in (
        ("**** **** **** 1111", "VISA"),
        ("**** **** **** 0000", "JCB"),
        ("**** **** **** 0002", "VISA"),
        ("**** **** **** 9995", "MASTER"),
    ):
        assert f'value="{masked}"' in page
        assert f'{masked} <span class="text-body-secondary">{brand}</span>' in page
    assert 'value="next"' in page and 'value="cancel"' in page


def test_next_shows_the_second_screen_with_the_chosen_card_and_changes_nothing_until_add(client):
    request = linepay_request()
    response = client.post(approval_url(request), {"action": "next", "card": VISA_1111})
    page = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="linepay-confirm-step"' in page
    assert f'<dd class="col-7" id="linepay-chosen-card">{VISA_1111}</dd>' in page
    assert f'<input type="hidden" name="card" value="{VISA_1111}">' in page
    assert 'value="confirm"' in page
    assert SandboxLinePayTransaction.objects.get(transaction_id=request.transaction_id).status == "requested"
    # without a card, no second screen
    assert client.post(approval_url(request), {"action": "next"}).status_code == 400


def test_the_qr_code_encodes_the_pages_own_absolute_url(client, monkeypatch):
    encoded = []
    real_make = segno.make
    monkeypatch.setattr(segno, "make", lambda content: encoded.append(content) or real_make(content))
    request = linepay_request()
    client.get(approval_url(request))
    assert encoded == [f"http://testserver/sandbox/linepay/payments/{request.transaction_id}/"]


def test_confirm_redirects_to_the_confirm_url_and_the_merchant_gets_a_regkey_and_the_masked_card(client):
    # given
    request = linepay_request()
    # when the user chooses a card and confirms
    response = client.post(approval_url(request), {"action": "confirm", "card": VISA_1111})
    approval = SandboxGateway().linepay_confirm(transaction_id=request.transaction_id, amount_twd=1)
    # then
    assert response.status_code == 302
    assert response["Location"] == (
        f"https://shop.example/linepay/confirm/?step=2&transactionId={request.transaction_id}"
        "&orderId=reg-1-0123456789abcdef"
    )
    assert re.fullmatch(r"[0-9]{15}", approval.reg_key)
    assert approval.masked_card == VISA_1111


def test_confirm_appends_the_parameters_to_a_url_without_a_query(client):
    request = linepay_request(confirm_url="/payments/linepay/confirm/")
    response = client.post(approval_url(request), {"action": "confirm", "card": VISA_1111})
    assert response["Location"] == (
        f"/payments/linepay/confirm/?transactionId={request.transaction_id}&orderId=reg-1-0123456789abcdef"
    )


def test_cancel_redirects_to_the_cancel_url_and_the_transaction_cannot_be_confirmed(client):
    request = linepay_request()
    response = client.post(approval_url(request), {"action": "cancel"})
    assert response.status_code == 302
    assert response["Location"] == (
        f"https://shop.example/linepay/cancel/?transactionId={request.transaction_id}&orderId=reg-1-0123456789abcdef"
    )
    assert SandboxLinePayTransaction.objects.get().status == "cancelled"
    with pytest.raises(GatewayError):
        SandboxGateway().linepay_confirm(transaction_id=request.transaction_id, amount_twd=1)


@pytest.mark.parametrize("data", [{"action": "confirm"}, {"action": "confirm", "card": "**** **** **** 4242"}])
def test_confirm_without_a_bound_card_shows_the_page_again_with_an_error(client, data):
    response = client.post(approval_url(linepay_request()), data)
    page = response.content.decode()
    assert response.status_code == 400
    assert (
        '<div class="text-danger small mt-1" role="alert" id="linepay-error">Choose a card to pay with.</div>' in page
    )
    assert "<svg" in page
    assert SandboxLinePayTransaction.objects.get().status == "requested"


def test_an_unknown_action_changes_nothing(client):
    response = client.post(approval_url(linepay_request()), {"action": "approve", "card": VISA_1111})
    assert response.status_code == 400
    assert "Choose confirm or cancel." in response.content.decode()
    assert SandboxLinePayTransaction.objects.get().status == "requested"


@pytest.mark.parametrize("transaction_id", ["1234567890123456789", "123456789012345678", "12345678901234567890"])
def test_an_unknown_or_malformed_transaction_is_a_404(client, transaction_id):
    linepay_request()
    url = f"/sandbox/linepay/payments/{transaction_id}/"
    assert client.get(url).status_code == 404
    assert client.post(url, {"action": "cancel"}).status_code == 404


def test_a_handled_transaction_says_so_instead_of_asking_again(client):
    request = linepay_request()
    client.post(approval_url(request), {"action": "confirm", "card": VISA_1111})
    page = client.get(approval_url(request)).content.decode()
    assert '<div class="alert alert-info" role="status" id="linepay-handled">' in page
    assert "This payment has already been approved." in page
    assert 'name="card"' not in page


def test_a_second_post_repeats_the_first_choice(client):
    # given a confirm already made (a double click, or a cancel pressed too late)
    request = linepay_request()
    first = client.post(approval_url(request), {"action": "confirm", "card": VISA_1111})
    # when
    second = client.post(approval_url(request), {"action": "cancel"})
    # then
    assert second["Location"] == first["Location"]
    assert SandboxLinePayTransaction.objects.get().status == "approved"


def test_after_twenty_minutes_a_confirm_goes_to_the_cancel_url_as_a_time_out(client):
    # given a request older than LINE Pay's 20 minutes
    request = linepay_request()
    SandboxLinePayTransaction.objects.update(created_at=timezone.now() - timedelta(minutes=20, seconds=1))
    # when
    page = client.get(approval_url(request)).content.decode()
    response = client.post(approval_url(request), {"action": "confirm", "card": VISA_1111})
    # then
    assert "This payment request has expired." in page
    assert response["Location"] == (
        f"https://shop.example/linepay/cancel/?transactionId={request.transaction_id}&orderId=reg-1-0123456789abcdef"
    )
    assert SandboxLinePayTransaction.objects.get().status == "expired"


def test_just_under_twenty_minutes_a_confirm_still_approves(client):
    request = linepay_request()
    SandboxLinePayTransaction.objects.update(created_at=timezone.now() - timedelta(minutes=19, seconds=50))
    response = client.post(approval_url(request), {"action": "confirm", "card": VISA_1111})
    assert response["Location"].startswith("https://shop.example/linepay/confirm/")
    assert SandboxLinePayTransaction.objects.get().status == "approved"


def test_the_approval_form_needs_the_csrf_token():
    request = linepay_request()
    response = Client(enforce_csrf_checks=True).post(approval_url(request), {"action": "confirm", "card": VISA_1111})
    assert response.status_code == 403
    assert SandboxLinePayTransaction.objects.get().status == "requested"


def test_the_whole_registration_runs_through_the_approval_page(client):
    # given our side asks for an approval page
    account = SubscriptionFactory().account
    registration, payment_url = linepay_registration_start(
        account=account,
        actor=None,
        confirm_url=lambda order_id: f"/back/{order_id}/confirm/",
        cancel_url=lambda order_id: f"/back/{order_id}/cancel/",
    )
    # when the admin confirms in "LINE" and comes back with LINE Pay's parameters
    response = client.post(payment_url, {"action": "confirm", "card": "**** **** **** 0000"})
    back = query_of(response["Location"])
    method = linepay_registration_confirm(registration=registration, transaction_id=back["transactionId"], actor=None)
    # then
    assert urlsplit(response["Location"]).path == f"/back/{registration.order_id}/confirm/"
    assert back == {"transactionId": registration.transaction_id, "orderId": registration.order_id}
    assert (method.kind, method.masked_card, len(method.gateway_token)) == ("linepay", "**** **** **** 0000", 15)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://a.example/c/", "https://a.example/c/?transactionId=1&orderId=o+1"),
        ("https://a.example/c/?x=1&y=", "https://a.example/c/?x=1&y=&transactionId=1&orderId=o+1"),
        ("/c/?x=%E4%B8%AD#top", "/c/?x=%E4%B8%AD&transactionId=1&orderId=o+1#top"),
    ],
)
def test_with_query_appends_to_any_url(url, expected):
    assert with_query(url, transactionId="1", orderId="o 1") == expected


def test_the_json_answer_is_what_the_page_script_hands_to_the_parent(client):
    answer = json.loads(tokenise(client, "5555 5555 5555 4444").content)
    assert answer == {"token": SandboxCard.objects.get().one_time_token, "brand": "mastercard", "last_four": "4444"}
