"""The doors: password guessing, the Content-Security-Policy, no-store, Permissions-Policy, the sandbox's pages
with a real gateway on, and a logged-out admin's checkout link."""

import importlib
import re
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from axes.models import AccessAttempt
from django.core.management import call_command
from django.urls import clear_url_caches, reverse
from django.utils import timezone

from billing.models import Checkout
from promos.models import CodeGuess
from tests.factories import UserFactory
from tests.helpers import new_admin, ready_admin, start_checkout

pytestmark = pytest.mark.django_db
PASSWORD = "pass-for-tests-1"  # UserFactory's
TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
# zh-Hant is the site's language: the lockout page as an admin reads it.
LOCKED_OUT = "輸入錯誤的密碼次數過多。為了您的安全，登入已鎖定 15 分鐘。"


def log_in(client, username, password, *, path="/login/", address="203.0.113.5"):
    return client.post(path, {"username": username, "password": password}, REMOTE_ADDR=address)


def logged_in_user_id(client):
    return client.session.get("_auth_user_id")


# --- Password guessing (django-axes) ------------------------------------------------------


def test_five_wrong_passwords_lock_the_username_even_against_the_right_one(client):
    # given
    user = UserFactory()
    for _ in range(5):
        log_in(client, user.username, "wrong")
    # when
    response = log_in(client, user.username, PASSWORD)
    # then
    assert response.status_code == 429
    assert LOCKED_OUT in response.content.decode()
    assert logged_in_user_id(client) is None


def test_a_locked_username_stays_locked_from_another_client(client):
    # given
    user = UserFactory()
    for i in range(5):
        log_in(client, user.username, "wrong", address=f"198.51.100.{i}")
    # when
    response = log_in(client, user.username, PASSWORD, address="192.0.2.77")
    # then
    assert response.status_code == 429
    assert logged_in_user_id(client) is None


def test_one_client_guessing_across_usernames_is_locked_out(client):
    # given five wrong passwords from one client, each for another username
    for i in range(5):
        log_in(client, f"nobody{i}", "wrong")
    user = UserFactory()
    # when
    response = log_in(client, user.username, PASSWORD)
    # then
    assert response.status_code == 429
    assert logged_in_user_id(client) is None
    # and the same user from another client logs in
    assert log_in(client, user.username, PASSWORD, address="192.0.2.8").status_code == 302
    assert logged_in_user_id(client) == str(user.pk)


def test_four_wrong_passwords_then_the_right_one_logs_in_and_forgets_them(client):
    # given
    user = UserFactory()
    for _ in range(4):
        log_in(client, user.username, "wrong")
    # when
    response = log_in(client, user.username, PASSWORD)
    # then
    assert response.status_code == 302
    assert logged_in_user_id(client) == str(user.pk)
    assert not AccessAttempt.objects.filter(username=user.username).exists()


def test_the_admin_log_in_is_locked_too(client):
    # given
    staff = UserFactory(is_staff=True, is_superuser=True)
    for _ in range(5):
        log_in(client, staff.username, "wrong", path="/admin/login/")
    # when
    response = log_in(client, staff.username, PASSWORD, path="/admin/login/")
    # then
    assert response.status_code == 429
    assert LOCKED_OUT in response.content.decode()
    assert logged_in_user_id(client) is None


def test_the_lock_ends_after_the_cool_off(client):
    # given
    user = UserFactory()
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        for _ in range(5):
            log_in(client, user.username, "wrong")
        # when
        traveller.shift(timedelta(minutes=15, seconds=1))
        response = log_in(client, user.username, PASSWORD)
    # then
    assert response.status_code == 302
    assert logged_in_user_id(client) == str(user.pk)


def test_staff_unlock_a_username_with_axes_reset_username(client):
    # given
    user = UserFactory()
    for _ in range(5):
        log_in(client, user.username, "wrong")
    assert log_in(client, user.username, PASSWORD).status_code == 429
    # when
    call_command("axes_reset_username", user.username)
    response = log_in(client, user.username, PASSWORD)
    # then
    assert response.status_code == 302
    assert logged_in_user_id(client) == str(user.pk)


# --- Content-Security-Policy ----------------------------------------------------------------


def csp_of(response) -> dict[str, str]:
    header = response["Content-Security-Policy"]
    return dict(part.strip().split(" ", 1) for part in header.split(";"))


def test_every_page_has_the_policy_and_inline_scripts_carry_its_nonce(client):
    # given
    membership = ready_admin()
    client.force_login(membership.user)
    # when (the e-invoice page has an inline script)
    response = client.get(reverse("billing:einvoice", args=[membership.account.pk]))
    # then
    policy = csp_of(response)
    nonce = re.fullmatch(r"'self' 'nonce-([A-Za-z0-9+/=]+)'", policy["script-src"]).group(1)
    assert policy == {
        "default-src": "'self'",
        "script-src": f"'self' 'nonce-{nonce}'",
        "style-src": f"'self' 'nonce-{nonce}'",
        "img-src": "'self' data:",
        "font-src": "'self'",
        "connect-src": "'self'",
        "frame-src": "'self'",
        "object-src": "'none'",
        "base-uri": "'self'",
        "frame-ancestors": "'none'",
    }
    assert f'<script nonce="{nonce}">' in response.content.decode()


def test_the_log_in_page_has_the_policy_too(client):
    response = client.get("/login/")
    assert response.status_code == 200
    assert csp_of(response)["frame-ancestors"] == "'none'"
    assert csp_of(response)["default-src"] == "'self'"


def test_the_sandbox_card_fields_may_be_framed_by_our_own_pages_only(client):
    # given
    membership = ready_admin()
    client.force_login(membership.user)
    # when
    response = client.get(reverse("sandbox:card_fields"))
    # then
    assert response.status_code == 200
    assert response["X-Frame-Options"] == "SAMEORIGIN"
    assert csp_of(response)["frame-ancestors"] == "'self'"


def test_the_card_page_allows_tappay_only_when_cards_go_to_tappay(client, settings, request):
    # given an admin (with a sandbox card) once TapPay is on
    membership = ready_admin()
    request.getfixturevalue("tappay_on")
    client.force_login(membership.user)
    card_page = reverse("billing:card_add", args=[membership.account.pk])
    # when
    response = client.get(card_page)
    # then
    policy = csp_of(response)
    assert "https://js.tappaysdk.com/sdk/tpdirect/" in response.content.decode()
    assert policy["script-src"].endswith(" https://js.tappaysdk.com https://sandbox.tappaysdk.com")
    assert policy["frame-src"] == "'self' https://js.tappaysdk.com https://sandbox.tappaysdk.com"
    assert policy["connect-src"] == "'self' https://js.tappaysdk.com https://sandbox.tappaysdk.com"
    # and no other page allows it
    other = csp_of(client.get(reverse("billing:plans", args=[membership.account.pk])))
    assert "tappaysdk" not in " ".join(other.values())
    # nor the card page with the sandbox on
    settings.PAYMENTS_GATEWAY = "sandbox"
    assert "tappaysdk" not in " ".join(csp_of(client.get(card_page)).values())


INLINE_CODE = [
    (re.compile(r"<script(?![^>]*\b(?:src|nonce)=)[^>]*>"), "an inline <script> without the nonce"),
    (re.compile(r"<style(?![^>]*\bnonce=)[^>]*>"), "a <style> without the nonce"),
    (re.compile(r"\sstyle=[\"']"), "a style attribute"),
    (re.compile(r"\son[a-z]+=[\"']"), "an event handler attribute"),
]


def test_no_template_has_inline_code_the_policy_would_refuse():
    # given every template of the project
    found = []
    for template in sorted(TEMPLATES.rglob("*.html")):
        text = template.read_text()
        for pattern, what in INLINE_CODE:
            found += [f"{template.relative_to(TEMPLATES)}: {what}: {m.group(0)!r}" for m in pattern.finditer(text)]
    # then
    assert found == []


def test_the_inline_code_check_finds_what_it_looks_for():
    # given a sample with one of each kind, and their allowed forms
    sample = '<script>x()</script><style>p{}</style><p style="a"><b onclick="y()"></b>'
    allowed = '<script nonce="{{ n }}">x()</script><script src="a.js"></script><style nonce="n">p{}</style>'
    # then
    assert [bool(p.search(sample)) for p, _what in INLINE_CODE] == [True, True, True, True]
    assert [bool(p.search(allowed)) for p, _what in INLINE_CODE] == [False, False, False, False]


# --- no-store and Permissions-Policy ------------------------------------------------------


PERMISSIONS = (
    "accelerometer=(), autoplay=(), camera=(), display-capture=(), geolocation=(), gyroscope=(), magnetometer=(), "
    "microphone=(), midi=(), payment=(), publickey-credentials-get=(), screen-wake-lock=(), usb=(), "
    "xr-spatial-tracking=()"
)


def test_a_signed_in_page_is_never_stored(client):
    # given
    membership = new_admin()
    client.force_login(membership.user)
    # when
    response = client.get(reverse("billing:plans", args=[membership.account.pk]))
    # then
    assert response.status_code == 200
    assert set(response["Cache-Control"].split(", ")) == {
        "max-age=0",
        "no-cache",
        "no-store",
        "must-revalidate",
        "private",
    }
    assert response["Permissions-Policy"] == PERMISSIONS


def test_an_anonymous_page_is_left_to_its_view_but_has_the_permissions_policy(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert "Cache-Control" not in response
    assert response["Permissions-Policy"] == PERMISSIONS


def test_the_admin_signed_in_is_never_stored(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    response = client.get("/admin/")
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]


# --- A logged-out admin's checkout link ---------------------------------------------------


def test_a_logged_out_admin_following_a_checkout_link_is_sent_to_log_in_and_back(client):
    # given
    checkout = start_checkout(ready_admin())
    link = reverse("billing:checkout", args=[checkout.token])
    # when
    response = client.get(link)
    # then
    assert response.status_code == 302
    assert response.url == f"/login/?next={link}"
    # and after logging in, the link leads to the checkout
    logged_in = log_in(client, checkout.account.memberships.get().user.username, PASSWORD)
    assert logged_in.status_code == 302
    assert client.get(link).status_code == 200


def test_a_logged_out_webstore_checkout_link_comes_back_to_the_webstore(client):
    checkout = start_checkout(ready_admin())
    link = reverse("webstore:checkout", args=[checkout.token])
    response = client.get(link)
    assert response.status_code == 302
    assert response.url == f"/login/?next={link}"


def test_a_logged_out_post_to_a_checkout_goes_to_log_in_and_changes_nothing(client):
    # given
    checkout = start_checkout(ready_admin())
    # when
    response = client.post(reverse("billing:checkout_code", args=[checkout.token]), {"code": "NOPE-NOPE"})
    # then: back to the checkout page after log-in (the code form posts only)
    assert response.status_code == 302
    assert response.url == f"/login/?next={reverse('billing:checkout', args=[checkout.token])}"
    assert Checkout.objects.get(pk=checkout.pk).code == ""
    assert not CodeGuess.objects.exists()


def test_an_unknown_checkout_link_logged_out_also_asks_to_log_in(client):
    # given nothing: a link that leads nowhere must not tell a stranger so
    link = reverse("billing:checkout", args=["no-such-token"])
    # when
    response = client.get(link)
    # then
    assert response.status_code == 302
    assert response.url == f"/login/?next={link}"


# --- The sandbox's pages with a real gateway on -------------------------------------------


@pytest.fixture
def urlconf_for_gateway(settings):
    """Reload config.urls under the gateway a test sets; the sandbox's URLconf again afterwards."""
    import config.urls

    def reload(gateway: str):
        settings.PAYMENTS_GATEWAY = gateway
        clear_url_caches()
        importlib.reload(config.urls)

    yield reload
    settings.PAYMENTS_GATEWAY = "sandbox"
    clear_url_caches()
    importlib.reload(config.urls)


@pytest.mark.parametrize("gateway", ["linepay", "tappay"])
def test_with_a_real_gateway_on_the_sandbox_pages_are_not_found(client, urlconf_for_gateway, gateway):
    # given
    client.force_login(ready_admin().user)
    # when
    urlconf_for_gateway(gateway)
    # then
    assert client.get("/sandbox/card-fields/").status_code == 404
    assert client.get(f"/sandbox/linepay/payments/{'1' * 19}/").status_code == 404
    assert client.post("/sandbox/card-fields/", {"number": "4242424242424242"}).status_code == 404


def test_with_the_sandbox_on_its_pages_are_there(client, urlconf_for_gateway):
    # given
    client.force_login(ready_admin().user)
    # when
    urlconf_for_gateway("sandbox")
    # then
    assert client.get("/sandbox/card-fields/").status_code == 200
