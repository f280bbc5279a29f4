# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""spread.in_order: items over a few workers, results in order, one thread per worker, fail closed."""

from __future__ import annotations

import threading
import time

import pytest

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv.spread import in_order


class Worker:
    """Records which items it did and in which threads, and whether two threads ever used it at once."""

    def __init__(self, name):
        self.name = name
        self.items = []
        self.threads = set()
        self.busy = threading.Lock()
        self.overlapped = False

    def __call__(self, item, delay=0.0):
        if not self.busy.acquire(blocking=False):
            self.overlapped = True
            self.busy.acquire()
        try:
            self.threads.add(threading.get_ident())
            self.items.append(item)
            time.sleep(delay)
            return (item, self.name)
        finally:
            self.busy.release()


def workers(count):
    return [Worker(f"w{number}") for number in range(count)]


def test_one_worker_does_every_item_in_this_thread_in_order():
    [only] = workers(1)
    assert in_order(lambda worker, item: worker(item), range(5), [only]) == [(item, "w0") for item in range(5)]
    assert only.items == [0, 1, 2, 3, 4] and only.threads == {threading.get_ident()}


def test_no_items_no_work():
    pool = workers(4)
    assert not in_order(lambda worker, item: worker(item), [], pool)
    assert all(not worker.items for worker in pool)


def test_results_keep_the_order_of_the_items_whoever_finishes_first():
    pool = workers(4)
    delays = [0.02 if item % 3 == 0 else 0.0 for item in range(40)]  # some items slow: the others overtake them
    results = in_order(lambda worker, item: worker(item, delays[item]), list(range(40)), pool)
    assert [item for item, _name in results] == list(range(40))
    assert sorted(item for worker in pool for item in worker.items) == list(range(40))  # each item once


def test_each_worker_is_used_by_one_thread_only_and_the_first_by_the_caller():
    pool = workers(4)
    in_order(lambda worker, item: worker(item, 0.005), list(range(40)), pool)
    assert not any(worker.overlapped for worker in pool)
    assert all(len(worker.threads) <= 1 for worker in pool)
    assert pool[0].threads == {threading.get_ident()}
    assert len({thread for worker in pool for thread in worker.threads}) >= 2  # they worked at the same time


def test_no_more_workers_than_items():
    pool = workers(8)
    in_order(lambda worker, item: worker(item, 0.01), ["a", "b"], pool)
    assert [worker.name for worker in pool if worker.items] in (["w0", "w1"], ["w0"], ["w1"])
    assert not any(worker.items for worker in pool[2:])


def test_items_go_to_whichever_worker_is_free():
    slow, fast = workers(2)

    def work(worker, item):
        return worker(item, 0.2 if worker is slow else 0.001)

    in_order(work, list(range(10)), [slow, fast])
    assert len(slow.items) == 1 and len(fast.items) == 9


def test_after_a_failure_no_item_starts_and_the_earliest_failure_is_raised():
    started = []
    lock = threading.Lock()

    def work(_worker, item):
        with lock:
            started.append(item)
        time.sleep(0.03 if item == 3 else 0.001)  # item 3 fails after item 5 has failed
        if item in (3, 5, 30):
            raise ValueError(f"item {item}")
        return item

    with pytest.raises(ValueError, match="^item 3$"):  # what one worker would have raised
        in_order(work, list(range(50)), workers(4))
    assert 30 not in started and len(started) < 50
    assert sorted(started) == list(range(len(started)))  # started in order, none skipped


def test_the_failure_is_the_one_a_single_worker_raises():
    def work(_worker, item):
        if item % 7 == 6:
            raise KeyError(item)
        return item

    for count in (1, 2, 5):
        with pytest.raises(KeyError) as raised:
            in_order(work, list(range(30)), workers(count))
        assert raised.value.args == (6,)


def test_an_interruption_wins_over_a_failure_and_every_thread_has_ended():
    threads_before = threading.active_count()

    def work(_worker, item):
        if item == 2:
            time.sleep(0.02)
            raise KeyboardInterrupt
        if item == 4:
            raise ValueError("a failure after it")
        time.sleep(0.005)
        return item

    with pytest.raises(KeyboardInterrupt):
        in_order(work, list(range(20)), workers(3))
    assert threading.active_count() == threads_before


def test_at_least_one_worker():
    with pytest.raises(ValueError, match="at least one worker"):
        in_order(lambda worker, item: item, [1], [])
