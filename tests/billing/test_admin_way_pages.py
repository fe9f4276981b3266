"""The pieces of the admin's way that need no browser: the QR code's document and target, which layout the log-in
pages take, /favicon.ico and the terms page (tests/e2e/test_admin_way.py shows them drawn)."""

import io
from datetime import date
from urllib.parse import quote

import pytest
import segno
from django.urls import reverse

from tests.factories import PlanPriceFactory, plan
from tests.helpers import new_admin

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    membership = new_admin()
    client.force_login(membership.user)
    client.account = membership.account
    return client


def test_the_qr_code_is_an_svg_document_with_its_namespace(admin_client):
    response = admin_client.get(reverse("billing:webstore_qr", args=[admin_client.account.pk]))
    assert response["Content-Type"] == "image/svg+xml"
    assert response.content.startswith(b'<svg xmlns="http://www.w3.org/2000/svg"')


def test_the_qr_code_holds_the_webstore_address_or_line_login_before_it(admin_client, settings):
    account = admin_client.account
    url = reverse("billing:webstore_qr", args=[account.pk])
    webstore = f"/webstore/accounts/{account.pk}/plans/"
    # without LINE Login: the webstore itself
    expected = segno.make(f"http://testserver{webstore}", error="m")
    assert admin_client.get(url).content == svg_of(expected)
    # with LINE Login: 以LINE登入, then the webstore
    settings.SOCIALACCOUNT_PROVIDERS = {"line": {"APP": {"client_id": "1650000000", "secret": "s"}}}
    expected = segno.make(f"http://testserver/auth/line/login/?next={quote(webstore, safe='')}", error="m")
    assert admin_client.get(url).content == svg_of(expected)


def svg_of(qr) -> bytes:
    out = io.BytesIO()
    qr.save(out, kind="svg", scale=4, light="#fff", xmldecl=False)
    return out.getvalue()


@pytest.mark.parametrize(
    ("next_url", "layout"),
    [
        ("/webstore/", "webstore/base.html"),
        ("/webstore/accounts/1/plans/", "webstore/base.html"),
        ("http://testserver/webstore/accounts/1/plans/", "webstore/base.html"),
        ("/accounts/1/plans/", "billing/base.html"),
        ("", "billing/base.html"),
        ("https://elsewhere.example/webstore/", "billing/base.html"),
        ("http://[::1", "billing/base.html"),
    ],
)
def test_the_log_in_page_takes_the_webstore_s_layout_only_for_a_webstore_page_of_ours(client, next_url, layout):
    response = client.get(reverse("login"), {"next": next_url} if next_url else {})
    assert response.status_code == 200
    assert layout in [template.name for template in response.templates]


def test_favicon_ico_leads_to_the_icon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 302
    assert response["Location"].endswith("billing/favicon.svg")
    assert client.get(response["Location"]).status_code == 200


def test_the_terms_page_is_open_to_anyone_in_both_languages_with_the_fees_in_force(client):
    # given the medium plan's fee raised from a past month (so it is the one in force)
    PlanPriceFactory(plan=plan("medium"), effective_from=date(2026, 2, 1), monthly_fee_twd=900)
    # then the terms, read by anyone, say so in Chinese and in English
    page = client.get(reverse("billing:terms"), HTTP_ACCEPT_LANGUAGE="zh-TW").content.decode()
    assert "付費方案條款" in page and "NT$900" in page and "不予退費" in page
    page = client.get(reverse("billing:terms"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Paid plan terms" in page and "NT$900" in page and "never refunded pro rata" in page
