import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.urls import reverse

from accounts.permissions import account_admin_required, account_for_admin, account_for_member
from tests.factories import AccountFactory, MembershipFactory, SubscriptionFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_members_see_their_account_and_admins_may_spend():
    admin = MembershipFactory()
    operator = MembershipFactory(account=admin.account, operator=True)
    assert account_for_member(user=admin.user, account_id=admin.account.pk) == admin.account
    assert account_for_member(user=operator.user, account_id=admin.account.pk) == admin.account
    assert account_for_admin(user=admin.user, account_id=admin.account.pk) == admin.account
    with pytest.raises(PermissionDenied):
        account_for_admin(user=operator.user, account_id=admin.account.pk)


@pytest.mark.parametrize("check", [account_for_member, account_for_admin])
def test_another_users_account_is_a_404(check):
    stranger = UserFactory()
    account = AccountFactory()
    MembershipFactory(account=account)
    with pytest.raises(Http404):
        check(user=stranger, account_id=account.pk)
    with pytest.raises(Http404):
        check(user=stranger, account_id="not-a-number")


def test_the_account_list_shows_only_the_users_accounts(client):
    mine = MembershipFactory()
    SubscriptionFactory(account=mine.account)
    other = SubscriptionFactory().account
    client.force_login(mine.user)
    page = client.get(reverse("billing:account_list")).content.decode()
    assert mine.account.basic_id in page
    assert other.basic_id not in page


def test_the_overview_is_a_404_for_a_stranger_and_200_for_a_member(client):
    membership = MembershipFactory(operator=True)
    SubscriptionFactory(account=membership.account)
    url = reverse("billing:plans", args=[membership.account.pk])
    client.force_login(UserFactory())
    assert client.get(url).status_code == 404
    client.force_login(membership.user)
    assert client.get(url).status_code == 200


def test_pages_need_a_login(client):
    response = client.get(reverse("billing:account_list"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_admin_only_views_take_the_account_and_refuse_operators_with_403(rf):
    # given a view behind the decorator
    @account_admin_required
    def spend(request, account):
        return HttpResponse(account.basic_id)

    admin = MembershipFactory()
    operator = MembershipFactory(account=admin.account, operator=True)
    # when / then
    request = rf.post("/")
    request.user = admin.user
    assert spend(request, account_id=admin.account.pk).content.decode() == admin.account.basic_id
    request.user = operator.user
    with pytest.raises(PermissionDenied):
        spend(request, account_id=admin.account.pk)
    request.user = UserFactory()
    with pytest.raises(Http404):
        spend(request, account_id=admin.account.pk)
