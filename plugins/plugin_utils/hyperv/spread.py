# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Spread work on many items over a few workers (each its own connection to a host), results in the items' order.

A worker is used by one thread only: the calling thread takes the first, a thread of its own each of the others.
Each takes the next item as soon as it is done with one, so a slow reply holds up one worker, not the others.
"""

from __future__ import annotations

import threading
import typing as t

Worker = t.TypeVar("Worker")
Item = t.TypeVar("Item")
Result = t.TypeVar("Result")


def in_order(work: t.Callable[[Worker, Item], Result], items: t.Sequence[Item],
             workers: t.Sequence[Worker]) -> list[Result]:
    """work(worker, item) for every item, over as many workers as there are items at most.

    The results come in the order of the items. After a failure no item is started, the items under way are
    finished, and the failure of the earliest item is raised: the one a run over one worker raises, since items
    start in order and every item before a failed one was started. An interruption (KeyboardInterrupt) is raised
    before any failure. No thread outlives the call.
    """
    if not workers:
        raise ValueError("in_order needs at least one worker")
    if len(workers) == 1 or len(items) <= 1:
        return [work(workers[0], item) for item in items]
    results: list[t.Any] = [None] * len(items)
    failures: dict[int, BaseException] = {}
    lock = threading.Lock()
    cursor = iter(range(len(items)))
    stop = threading.Event()

    def run(worker: Worker) -> None:
        while True:
            with lock:
                index = None if stop.is_set() or failures else next(cursor, None)
            if index is None:
                return
            try:
                results[index] = work(worker, items[index])
            except BaseException as exc:  # pylint: disable=broad-exception-caught  # raised by the caller below
                with lock:
                    failures[index] = exc
                return

    threads = [threading.Thread(target=run, args=(worker,), name=f"vmgate-read-{number}", daemon=True)
               for number, worker in enumerate(workers[1:len(items)], start=1)]
    try:
        for thread in threads:
            thread.start()
        run(workers[0])
    finally:
        stop.set()  # also when the calling thread is interrupted: the others finish the item they hold, then end
        for thread in threads:
            if thread.ident is not None:
                thread.join()
    if failures:
        interrupted = [index for index, exc in failures.items() if not isinstance(exc, Exception)]
        raise failures[min(interrupted or failures)]  # an interruption (KeyboardInterrupt) before any failure
    return results
