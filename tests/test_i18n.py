"""zh-Hant is the default language, English the second; the committed catalogues are complete."""

import ast
import gettext
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import translation

from promos.eligibility import CodeRefusal
from tests.factories import MembershipFactory, SubscriptionFactory

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.django_db
def test_the_staff_admin_speaks_traditional_chinese_by_default(admin_client):
    page = admin_client.get(reverse("admin:promos_promocode_changelist")).content.decode()
    assert "優惠活動代碼" in page


@pytest.mark.django_db
def test_an_admin_can_switch_to_english_and_back(client):
    membership = MembershipFactory()
    SubscriptionFactory(account=membership.account)
    client.force_login(membership.user)
    assert "選擇要加值的官方帳號" in client.get(reverse("billing:account_list")).content.decode()
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    assert "Choose the official account to top up" in client.get(reverse("billing:account_list")).content.decode()
    client.post(reverse("set_language"), {"language": "zh-hant", "next": "/"})
    assert "選擇要加值的官方帳號" in client.get(reverse("billing:account_list")).content.decode()


def test_a_refusal_reads_in_the_users_language():
    with translation.override("zh-hant"):
        assert str(CodeRefusal.REDEEMED.label) == "此代碼已使用過。"
    with translation.override("en"):
        assert str(CodeRefusal.REDEEMED.label) == "This code has already been used."


def po_messages(path: Path) -> list[str]:
    """The msgids of a .po file (multi-line ones joined), header left out."""
    messages, current, in_msgid = [], None, False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("msgid "):
            current, in_msgid = ast.literal_eval(line[6:]), True
        elif in_msgid and line.startswith('"'):
            current += ast.literal_eval(line)
        elif in_msgid:
            messages.append(current)
            in_msgid = False
    return [message for message in messages if message]


def test_the_compiled_zh_hant_catalogue_translates_every_message():
    folder = ROOT / "locale" / "zh_Hant" / "LC_MESSAGES"
    with (folder / "django.mo").open("rb") as mo:
        catalogue = gettext.GNUTranslations(mo)._catalog
    translated = {key if isinstance(key, str) else key[0] for key, value in catalogue.items() if value}
    missing = [message for message in po_messages(folder / "django.po") if message not in translated]
    assert missing == []
