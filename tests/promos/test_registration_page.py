"""Registering a code on the admins' page: a refused window reads as its own sentence, in zh-Hant by default."""

from datetime import datetime

import pytest
import time_machine
from django.urls import reverse

from accounts.periods import BILLING_TZ
from promos.models import CodeStatus
from tests.factories import CampaignFactory, PromoCodeFactory
from tests.helpers import add_card, new_admin

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("valid_until", "message"),
    [
        (
            datetime(2026, 6, 30, 23, 59, 59, tzinfo=BILLING_TZ),
            "此代碼的有效期間在下次續約（2026-07-01）前結束，無法登錄於續約使用。",
        ),
        (datetime(2026, 6, 9, 23, 59, 59, tzinfo=BILLING_TZ), "此代碼的有效期間已結束。"),
    ],
    ids=["ends-before-the-renewal", "already-ended"],
)
def test_a_refused_window_is_shown_with_its_own_message(client, valid_until, message):
    # given an admin of a Medium account with a card, on June 10th, and a code of a campaign ending on `valid_until`
    membership = new_admin(medium=True)
    add_card(membership.account)
    code = PromoCodeFactory(campaign=CampaignFactory(valid_until=valid_until))
    client.force_login(membership.user)
    url = reverse("billing:promo_code", args=[membership.account.pk])
    # when they register it
    with time_machine.travel(datetime(2026, 6, 10, 12, tzinfo=BILLING_TZ)):
        response = client.post(url, {"code": code.code}, follow=True)
    # then the page says why, and the code is still available
    assert response.status_code == 200
    assert [str(m) for m in response.context["messages"]] == [message]
    code.refresh_from_db()
    assert (code.status, code.registered_account) == (CodeStatus.AVAILABLE, None)
