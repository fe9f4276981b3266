"""The admin of the base app: the audit trail's object-type filter, and the addresses of models that moved here."""

import pytest
from django.urls import reverse

from tests.factories import AccountFactory, AuditRecordFactory

pytestmark = pytest.mark.django_db


def test_the_audit_trail_filters_by_the_object_types_of_every_app_including_accounts(admin_client):
    # given an audit record of an official account and one of a subscription
    account = AccountFactory()
    AuditRecordFactory(account=account, object_type="accounts.officialaccount", object_id=str(account.pk))
    AuditRecordFactory(account=account)
    url = reverse("admin:accounts_auditrecord_changelist")
    # when
    page = admin_client.get(url)
    filtered = admin_client.get(url, {"object_type": "accounts.officialaccount"})
    # then the filter offers the accounts app's models and narrows the list to them
    choices = {value for value, _label in page.context["cl"].filter_specs[0].lookup_choices}
    assert {"accounts.officialaccount", "accounts.membership", "billing.subscription"} <= choices
    assert [r.object_type for r in filtered.context["cl"].result_list] == ["accounts.officialaccount"]


@pytest.mark.parametrize("model", ["officialaccount", "membership", "auditrecord", "userpreference"])
def test_an_old_admin_address_of_a_moved_model_leads_to_its_new_one(admin_client, model):
    response = admin_client.get(f"/admin/billing/{model}/?q=ming")
    assert (response.status_code, response["Location"]) == (301, f"/admin/accounts/{model}/?q=ming")
