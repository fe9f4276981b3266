from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from billing.permissions import account_member_required
from billing.selectors import account_overview_context, accounts_of_user


@login_required
def account_list(request):
    return render(request, "billing/account_list.html", {"memberships": accounts_of_user(request.user)})


@account_member_required
def account_overview(request, account):
    context = account_overview_context(account=account)
    context["membership"] = request.membership
    return render(request, "billing/account_overview.html", context)
