"""The promos admin: campaigns, and the actions on codes (void, export, generate) and their search."""

import csv
import io

import pytest
from django.contrib.messages import ERROR, SUCCESS, WARNING

from accounts.models import AuditRecord
from promos import admin as promos_admin
from promos.codes import format_code
from promos.models import Campaign, CodeBatch, PromoCode, Redemption
from tests.admin_rows import admin_url, messages_of, post_action
from tests.factories import AccountFactory, CampaignFactory, PromoCodeFactory, RedemptionFactory

# These tests read the English source strings; tests/test_i18n.py checks the zh-Hant ones.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]


def test_a_campaign_keeps_its_face_value_when_a_post_changes_it(admin_client):
    # given
    campaign = CampaignFactory(name="春季優惠")
    data = {
        "name": "春季優惠（延長）",
        "face_value_twd": 1,
        "valid_from_0": "2026-01-01",
        "valid_from_1": "00:00:00",
        "valid_until_0": "2027-12-31",
        "valid_until_1": "23:59:59",
        "regions": ["TW"],
        "payment_method_kinds": ["card", "linepay"],
        "charge_kinds": ["renewal_medium", "renewal_high"],
    }

    # when
    response = admin_client.post(admin_url(Campaign, "change", campaign.pk), data)

    # then
    campaign.refresh_from_db()
    assert response.status_code == 302
    assert campaign.name == "春季優惠（延長）"
    assert campaign.face_value_twd == 1200
    assert campaign.charge_kinds == ["renewal_medium", "renewal_high"]


# ---- promo code actions ---------------------------------------------------------------------


def test_void_action_voids_available_and_registered_codes_and_leaves_redeemed_ones(admin_client, admin_user):
    # given
    available = PromoCodeFactory()
    registered = PromoCodeFactory(registered=True)
    redeemed = RedemptionFactory().code

    # when
    response = post_action(admin_client, PromoCode, "void_codes", [available, registered, redeemed])

    # then
    assert response.status_code == 302
    statuses = dict(PromoCode.objects.values_list("pk", "status"))
    assert statuses == {available.pk: "void", registered.pk: "void", redeemed.pk: "redeemed"}
    audit = AuditRecord.objects.filter(action="promo_code.void").order_by("object_id")
    assert sorted(audit.values_list("object_id", "actor")) == sorted(
        [(str(available.pk), admin_user.pk), (str(registered.pk), admin_user.pk)]
    )
    assert messages_of(response) == [
        (SUCCESS, "2 of 3 codes voided."),
        (WARNING, "Codes already redeemed or void were left as they were."),
    ]


def csv_rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_export_action_streams_the_selected_codes_formatted(admin_client):
    # given
    campaign = CampaignFactory(name="春季優惠")
    first, second = PromoCodeFactory(campaign=campaign), PromoCodeFactory(campaign=campaign)
    PromoCodeFactory(campaign=campaign)

    # when
    response = post_action(admin_client, PromoCode, "export_codes", [first, second])

    # then
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="promo-codes-selected-')
    rows = csv_rows(response)
    assert rows[0] == ["code", "campaign", "status", "valid_until"]
    assert [row[:3] for row in rows[1:]] == [
        [format_code(first.code), "春季優惠", "available"],
        [format_code(second.code), "春季優惠", "available"],
    ]


def test_campaign_export_writes_every_code_once_across_chunks(admin_client, monkeypatch):
    # given
    monkeypatch.setattr(promos_admin, "EXPORT_CHUNK", 2)
    campaign = CampaignFactory()
    codes = PromoCodeFactory.create_batch(5, campaign=campaign)
    PromoCodeFactory()  # another campaign's

    # when
    response = post_action(admin_client, Campaign, "export_codes", [campaign])

    # then
    rows = csv_rows(response)
    assert rows[0] == ["code", "campaign", "status", "valid_until"]
    assert [row[0] for row in rows[1:]] == [format_code(code.code) for code in codes]


def test_generate_action_asks_for_the_count_first(admin_client):
    # given
    campaign = CampaignFactory()

    # when
    response = post_action(admin_client, Campaign, "generate_codes", [campaign])

    # then
    assert response.status_code == 200
    assert response.templates[0].name == "admin/promos/campaign/generate_codes.html"
    assert not response.context["form"].is_bound
    assert not PromoCode.objects.exists()


def test_generate_action_creates_the_codes(admin_client, admin_user):
    # given
    campaign = CampaignFactory(name="春季優惠")

    # when
    response = post_action(admin_client, Campaign, "generate_codes", [campaign], apply="1", count="25")

    # then
    assert response.status_code == 302
    batch = CodeBatch.objects.get()
    assert (batch.campaign, batch.requested, batch.actor) == (campaign, 25, admin_user)
    assert PromoCode.objects.filter(campaign=campaign, batch=batch, status="available").count() == 25
    assert messages_of(response) == [(SUCCESS, "25 codes generated for 春季優惠.")]


@pytest.mark.parametrize("count", ["0", "-3", "1000001"])
def test_generate_action_refuses_a_count_out_of_range(admin_client, count):
    # given
    campaign = CampaignFactory()

    # when
    response = post_action(admin_client, Campaign, "generate_codes", [campaign], apply="1", count=count)

    # then
    assert response.status_code == 200
    assert response.context["form"].errors == {"count": ["Enter a number of codes from 1 to 1,000,000."]}
    assert not CodeBatch.objects.exists()
    assert not PromoCode.objects.exists()


def test_generate_action_wants_exactly_one_campaign(admin_client):
    # given
    campaigns = CampaignFactory.create_batch(2)

    # when
    response = post_action(admin_client, Campaign, "generate_codes", campaigns, apply="1", count="5")

    # then
    assert response.status_code == 302
    assert messages_of(response) == [(ERROR, "Select exactly one campaign to generate codes for.")]
    assert not PromoCode.objects.exists()


@pytest.mark.parametrize("typed", ["lower", "spaced"])
def test_search_finds_a_code_however_it_is_typed(admin_client, typed):
    # given
    code = PromoCodeFactory()
    PromoCodeFactory()
    term = format_code(code.code).lower() if typed == "lower" else " ".join(format_code(code.code).split("-"))

    # when
    response = admin_client.get(admin_url(PromoCode, "changelist"), {"q": term})

    # then
    assert list(response.context["cl"].result_list) == [code]


def test_search_finds_codes_by_the_account_they_are_registered_to(admin_client):
    # given
    account = AccountFactory(basic_id="@springshop")
    code = PromoCodeFactory(registered=True, registered_account=account)
    PromoCodeFactory()

    # when
    response = admin_client.get(admin_url(PromoCode, "changelist"), {"q": "@springshop"})

    # then
    assert list(response.context["cl"].result_list) == [code]


def test_redemption_search_finds_a_dashed_lower_case_code(admin_client):
    # given
    redemption = RedemptionFactory()
    RedemptionFactory()

    # when
    response = admin_client.get(admin_url(Redemption, "changelist"), {"q": format_code(redemption.code.code).lower()})

    # then
    assert list(response.context["cl"].result_list) == [redemption]


def test_exporting_codes_is_audited(admin_client, admin_user):
    campaign = CampaignFactory()
    PromoCodeFactory(campaign=campaign)
    response = post_action(admin_client, Campaign, "export_codes", [campaign])
    b"".join(response.streaming_content)
    record = AuditRecord.objects.get(action="promo_code.export")
    assert (record.actor, record.object_id, record.after) == (admin_user, str(campaign.pk), {"scope": "campaign"})
