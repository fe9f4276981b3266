"""費用試算, the cost estimator (SPEC §7, seed 004): which plan carries a month's messages for least, from a number of
billed messages or a mix of the seed's features, starting from the account's own last month. The arithmetic is
billing/estimator.py's; this page reads the form, shows the result with its chart, and offers the move."""

from django import forms
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.http import page
from accounts.periods import local_date, month_start, previous_month_start
from accounts.permissions import account_member_required
from billing.charts import inline_svg, xy_chart
from billing.estimator import EstimateRefused, FeatureMix, estimate, messages_for_mix, messages_for_volume, plan_cost
from billing.pricing import PlanMove
from billing.selectors import plan_terms, plans_with_terms, pricing_rules
from usage.selectors import billed_by_month

MOST = 1_000_000_000  # more than any official account sends in a month; keeps the arithmetic small


def count_field(label, **kwargs):
    return forms.IntegerField(label=label, min_value=0, max_value=MOST, required=False, **kwargs)


class EstimateForm(forms.Form):
    billed_messages = count_field(gettext_lazy("Billed messages a month"))
    scripted_conversations = count_field(gettext_lazy("Scripted conversations a month (對話腳本)"))
    messages_per_conversation = count_field(gettext_lazy("Messages in each conversation"))
    agent_replies = count_field(gettext_lazy("Agent replies a month (專員回覆)"))
    segmented_messages = count_field(gettext_lazy("Segmented messages a month (分眾訊息)"))
    recipients_per_segmented_message = count_field(gettext_lazy("Recipients of each"))
    event_messages = count_field(gettext_lazy("Event messages a month (事件回應)"))
    reply_token_percent = forms.IntegerField(
        label=gettext_lazy("Replies sent while the reply token is valid (%)"),
        min_value=0,
        max_value=100,
        required=False,
        help_text=gettext_lazy("Those are free; a reply sent later goes as Push and is billed."),
    )

    MIX = (
        "scripted_conversations",
        "messages_per_conversation",
        "agent_replies",
        "segmented_messages",
        "recipients_per_segmented_message",
        "event_messages",
    )

    def messages(self):
        """The month the form describes: a feature mix when any of its fields is given, else the number."""
        data = self.cleaned_data
        if any(data.get(name) for name in self.MIX):
            mix = FeatureMix(
                **{name: data.get(name) or 0 for name in self.MIX},
                reply_token_percent=data.get("reply_token_percent") or 0,
            )
            return messages_for_mix(mix)
        return messages_for_volume(data.get("billed_messages") or 0)


def last_month_billed(account) -> int | None:
    last = previous_month_start(local_date(timezone.now()))
    billed = billed_by_month(account, [last])[last]
    return billed or None


def cost_chart(terms, volume: int, rules, nonce: str) -> str:
    """Each plan's monthly cost after tax against the monthly volume, the month asked marked."""
    top = max(volume * 2, 20_000)
    points = [round(top * step / 20) for step in range(21)]
    series = [(plan.code.title(), [(n, plan_cost(plan, n, rules).total_twd) for n in points]) for plan in terms]
    highest = max(cost for _name, values in series for _n, cost in values)
    series.append((_("Your month"), [(volume, 0), (volume, highest)]))
    return inline_svg(xy_chart(title=_("Monthly cost after tax by billed messages"), series=series), nonce=nonce)


@account_member_required
def estimate_view(request, account):
    month = month_start(local_date(timezone.now()))
    terms = [plan_terms(plan, month) for plan in plans_with_terms()]
    rules = pricing_rules()
    given = {key: value for key, value in request.GET.items() if value != ""}
    if not given:
        given = {"billed_messages": last_month_billed(account) or 0}
    form = EstimateForm(given)
    result = chart = None
    if form.is_valid():
        try:
            messages = form.messages()
        except EstimateRefused as error:
            form.add_error(None, error.message)
        else:
            current = account.subscription.plan.code
            result = estimate(plans=terms, messages=messages, rules=rules, current=current)
            chart = cost_chart(terms, messages.billed, rules, request.csp_nonce)
    return page(
        request,
        account,
        "billing/estimate.html",
        form=form,
        result=result,
        chart=chart,
        upgrade=PlanMove.UPGRADE,
        downgrade=PlanMove.DOWNGRADE,
    )
