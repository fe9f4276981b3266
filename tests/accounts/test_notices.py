"""Which language a person reads and how a notice is sent have one home, accounts.notices: the admins' notices
and the e-invoice notice both use it."""

import logging

import pytest
from django.core import mail

from accounts import notices
from accounts.models import UserPreference
from accounts.notices import language_for_address, notify_admins, send_in_language
from tests.factories import AccountFactory, MembershipFactory

pytestmark = pytest.mark.django_db


def admin(account, email, language=None):
    membership = MembershipFactory(account=account, user__email=email)
    if language:
        UserPreference.objects.create(user=membership.user, language=language)
    return membership.user


def test_mail_to_an_admin_s_address_is_in_that_admin_s_language():
    # given two admins who chose different languages
    account = AccountFactory()
    admin(account, "first@example.tw", "zh-hant")
    admin(account, "second@example.tw", "en")
    # then an address of the second one reads English
    assert language_for_address(account_id=account.pk, email="second@example.tw") == "en"


def test_mail_to_another_address_is_in_the_first_admin_s_language_that_was_chosen(settings):
    # given a first admin who chose nothing and a second who chose English
    settings.LANGUAGE_CODE = "zh-hant"
    account = AccountFactory()
    admin(account, "first@example.tw")
    admin(account, "second@example.tw", "en")
    # then a bookkeeper's address on the e-invoice profile reads English
    assert language_for_address(account_id=account.pk, email="books@example.tw") == "en"
    # and with no admin who chose, the site's language
    assert language_for_address(account_id=AccountFactory().pk, email="books@example.tw") == "zh-hant"


def test_admins_are_each_told_in_their_own_language():
    # given an admin reading English and one reading Chinese
    account = AccountFactory()
    admin(account, "en@example.tw", "en")
    admin(account, "zh@example.tw", "zh-hant")
    # when they are told their code expired
    sent = notify_admins(account=account, notice="code_released", code=None)
    # then each got the notice in their language
    assert sent == 2
    subjects = {message.to[0]: message.subject for message in mail.outbox}
    assert subjects["en@example.tw"].startswith("[LINE Official Account]")
    assert subjects["zh@example.tw"].startswith("[LINE官方帳號]")


def test_a_mail_server_that_fails_is_logged_and_sends_nothing(monkeypatch, caplog):
    # given a mail server that refuses
    def refuse(*args, **kwargs):
        raise ConnectionRefusedError("no mail server")

    monkeypatch.setattr(notices, "send_mail", refuse)
    # when a notice is sent
    context = {"account": AccountFactory(), "code": None}
    with caplog.at_level(logging.ERROR, logger="accounts.notices"):
        sent = send_in_language(
            to="someone@example.tw",
            language="en",
            template="emails/code_released.txt",
            context=context,
            log_as="notice for test",
        )
    # then nothing was raised or sent, and the log says which notice, not to whom
    assert sent == 0
    assert "notice for test not sent" in caplog.text
    assert "someone@example.tw" not in caplog.text
