"""Work done a batch at a time, where one faulty item must hold back only itself."""

import logging
from collections.abc import Callable, Sequence
from typing import TypeVar

logger = logging.getLogger(__name__)

Item = TypeVar("Item")


def each_alone_on_failure(
    items: Sequence[Item],
    do_batch: Callable[[list[Item]], object],
    on_fault: Callable[[Item, Exception], object],
    *,
    what: str = "items",
) -> None:
    """`do_batch(items)`; should it raise, `do_batch([item])` for each item in turn.

    Each item that fails on its own goes to `on_fault(item, error)`, called inside the `except` so that it may
    log the traceback (or re-raise). A batch of one that fails is that item's fault at once: it is not tried
    twice. A failed `do_batch` must leave nothing that a second try would repeat (it rolls back its own
    transaction or savepoint, or what it committed is skipped when run again).
    """
    items = list(items)
    try:
        do_batch(items)
        return
    except Exception as error:  # noqa: BLE001 - which item is at fault is found out below
        if len(items) == 1:
            on_fault(items[0], error)
            return
        logger.exception("a batch of %s %s failed; trying them one by one", len(items), what)
    for item in items:
        try:
            do_batch([item])
        except Exception as error:  # noqa: BLE001 - one item's fault must not stop the others
            on_fault(item, error)
