"""Trying the batch, then each item alone, has one home, accounts.batches: invoicing, renewing and settling use it."""

import pytest

from accounts.batches import each_alone_on_failure


class Worker:
    """Does batches of numbers; any batch holding a bad one fails as a whole."""

    def __init__(self, bad=()):
        self.bad, self.calls, self.done, self.faults = set(bad), [], [], []

    def do(self, batch):
        self.calls.append(list(batch))
        if self.bad & set(batch):
            raise ValueError(f"bad in {batch}")
        self.done += batch

    def fault(self, item, error):
        self.faults.append((item, str(error)))


def test_a_batch_that_works_is_done_once():
    worker = Worker()
    each_alone_on_failure([1, 2, 3], worker.do, worker.fault)
    assert (worker.calls, worker.done, worker.faults) == ([[1, 2, 3]], [1, 2, 3], [])


def test_a_failed_batch_is_tried_item_by_item_and_only_the_bad_one_is_a_fault():
    worker = Worker(bad={2})
    each_alone_on_failure([1, 2, 3], worker.do, worker.fault, what="numbers")
    assert worker.calls == [[1, 2, 3], [1], [2], [3]]
    assert worker.done == [1, 3]
    assert worker.faults == [(2, "bad in [2]")]


def test_a_failed_batch_of_one_is_its_item_s_fault_without_a_second_try():
    worker = Worker(bad={7})
    each_alone_on_failure([7], worker.do, worker.fault)
    assert (worker.calls, worker.done, worker.faults) == ([[7]], [], [(7, "bad in [7]")])


def test_a_fault_handler_that_raises_stops_the_rest():
    worker = Worker(bad={1, 2})

    def give_up(item, error):
        raise error

    with pytest.raises(ValueError, match=r"bad in \[1\]"):
        each_alone_on_failure([1, 2, 3], worker.do, give_up)
    assert worker.calls == [[1, 2, 3], [1]]
    assert worker.done == []
