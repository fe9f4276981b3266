"""The continuous charge pool: each order leaves as a slot frees up, in flight per gateway, pooled HTTP sessions."""

import threading

import pytest

from payments.gateways import (
    ChargeRequest,
    ChargeResult,
    Outcome,
    charge_concurrently,
    http_session,
    max_in_flight,
)


def order(order_id):
    return ChargeRequest(method=None, amount_twd=100, order_id=order_id, description="test")


def test_no_order_waits_for_a_slower_one_in_flight():
    # given two slots, and a slow order that answers only once the four quick ones have all been sent
    quick_sent, sent, slow_waited = threading.Event(), [], []

    def charge(*, method, amount_twd, order_id, description):
        sent.append(order_id)
        if order_id == "slow":
            slow_waited.append(quick_sent.wait(timeout=5))
        elif len([o for o in sent if o != "slow"]) == 4:
            quick_sent.set()
        return ChargeResult(Outcome.SUCCEEDED, reference=order_id)

    # when the five are charged together
    results = charge_concurrently(charge, [order("slow"), *(order(f"quick-{i}") for i in range(4))], in_flight=2)
    # then the quick ones went through the other slot while the slow one was still in flight
    assert slow_waited == [True]
    assert [result.reference for result in results] == ["slow", "quick-0", "quick-1", "quick-2", "quick-3"]


def test_an_order_whose_call_raises_is_unknown_and_the_others_are_answered():
    def charge(*, method, amount_twd, order_id, description):
        if order_id == "b":
            raise ConnectionError("reset")
        return ChargeResult(Outcome.SUCCEEDED, reference=order_id)

    results = charge_concurrently(charge, [order("a"), order("b"), order("c")], in_flight=3)
    assert [result.outcome for result in results] == [Outcome.SUCCEEDED, Outcome.UNKNOWN, Outcome.SUCCEEDED]


@pytest.mark.parametrize("name", ["linepay", "tappay"])
def test_each_real_gateway_has_its_own_in_flight_count_defaulting_to_the_general_one(settings, name):
    settings.PAYMENTS_MAX_IN_FLIGHT = 8
    assert max_in_flight(name) == 8  # the settings' default, as .env.example shows it
    setattr(settings, f"PAYMENTS_MAX_IN_FLIGHT_{name.upper()}", 64)
    assert max_in_flight(name) == 64
    assert max_in_flight("sandbox") == 8


def test_a_gateways_http_session_is_shared_and_pools_as_many_connections_as_it_has_in_flight(settings):
    settings.PAYMENTS_MAX_IN_FLIGHT_TAPPAY = 32
    from payments.gateways import _sessions

    _sessions.clear()
    session = http_session("tappay")
    assert http_session("tappay") is session
    assert session.get_adapter("https://prod.tappaysdk.com")._pool_maxsize == 32
    assert http_session("linepay") is not session
    _sessions.clear()
