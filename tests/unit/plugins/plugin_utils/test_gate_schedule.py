"""The wave's queue (gate/schedule.py) on a simulated clock: every limit held on both ends, every migration run once,
the busiest hosts served first, equally good destinations shared, and the wall time near the bound the limits set."""

from __future__ import annotations

import heapq
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.gate.schedule import Migration, Queue, Room, Slots


def simulate(queue: Queue, duration=lambda migration: 5.0):
    """Run the queue to its end on a simulated clock: (wall time, each host's peak, the migrations in start order)."""
    clock, ends, order, peaks = 0.0, [], [], {}
    counter = itertools.count()

    def start_ready():
        for migration in queue.start():
            order.append(migration)
            heapq.heappush(ends, (clock + duration(migration), next(counter), migration))
            for host in (migration.source, migration.destination):
                peaks[host] = max(peaks.get(host, 0), queue.slots.running[host])
                limit = queue.slots.limits.get(host)
                assert queue.slots.running[host] <= (1 if limit is None else limit), (host, clock)

    start_ready()
    while ends:
        clock, _tie, migration = heapq.heappop(ends)
        queue.finish(migration, moved=True)
        for host, left in queue.room.for_vms.items():
            assert left is None or left >= 0, (host, left, clock)  # never more memory placed than the host has
        start_ready()
    assert not queue.waiting and not queue.running
    return clock, peaks, order


def wave(vms_per_host: dict[str, int], limits: dict[str, int], destinations=None):
    """Every VM of a host may go to every other host (or those `destinations(source)` gives), equally good."""
    queue = Queue(Slots(limits))
    number = 0
    for source, count in vms_per_host.items():
        for _index in range(count):
            number += 1
            others = destinations(source) if destinations else tuple(host for host in limits if host != source)
            queue.submit(Migration(f"vm{number:03d}", source, others, order=number))
    return queue


def test_the_load_wave_runs_within_the_bound_the_limits_set():
    # 50 VMs on 10 hosts, limit 2 each, 5 s jobs: at most 10 migrations at once, so 250 job-seconds need 25 s.
    hosts = {f"HV{index:02d}": 2 for index in range(1, 11)}
    wall, peaks, order = simulate(wave({host: 5 for host in hosts}, hosts))
    assert len(order) == 50 and len({migration.vm for migration in order}) == 50
    assert wall <= 1.3 * 25, wall
    assert max(peaks.values()) == 2


def test_a_migration_that_would_exceed_a_limit_waits_instead_of_being_sent():
    queue = Queue(Slots({"A": 1, "B": 1}))
    queue.submit(Migration("vm1", "A", ("B",)))
    queue.submit(Migration("vm2", "A", ("B",)))
    first = queue.start()
    assert [migration.vm for migration in first] == ["vm1"] and queue.start() == []
    queue.finish(first[0])
    assert [migration.vm for migration in queue.start()] == ["vm2"]


def test_migrations_already_running_count_on_both_ends():
    queue = Queue(Slots({"A": 2, "B": 2}, running={"A": 2}))
    queue.submit(Migration("vm1", "A", ("B",)))
    assert queue.start() == []
    queue.slots.give_back("A")  # someone else's migration ended
    assert [migration.vm for migration in queue.start()] == ["vm1"]


def test_equally_good_destinations_are_shared_not_piled_onto_the_first():
    queue = Queue(Slots({"A": 4, "B": 2, "C": 2}))
    for number in range(4):
        queue.submit(Migration(f"vm{number}", "A", ("B", "C"), order=number))
    started = queue.start()
    assert sorted(migration.destination for migration in started) == ["B", "B", "C", "C"]


def test_the_closest_fit_first_and_a_looser_fit_only_when_it_has_no_free_slot():
    # B is every VM's closest fit (one slot), C a looser one: B takes what it can, C the rest at once
    queue = Queue(Slots({"A": 3, "B": 1, "C": 2}))
    for number in range(3):
        queue.submit(Migration(f"vm{number}", "A", ("B", "C"), order=number, closest=1))
    assert [(migration.vm, migration.destination) for migration in queue.start()] == [
        ("vm0", "B"), ("vm1", "C"), ("vm2", "C")]
    # alike (closest not given): the most free slots first
    queue = Queue(Slots({"A": 1, "B": 1, "C": 2}))
    queue.submit(Migration("vm0", "A", ("B", "C")))
    assert queue.start()[0].destination == "C"


def test_a_wave_held_to_a_few_closest_hosts_spills_onto_the_others():
    # 12 VMs on 4 new hosts whose closest fit is the one old host (limit 1): alone it would take 12 rounds
    limits = {"OLD": 1, "N1": 2, "N2": 2, "N3": 2, "N4": 2}
    queue = Queue(Slots(limits))
    for number in range(12):
        source = f"N{number % 4 + 1}"
        others = ("OLD", *(host for host in limits if host not in ("OLD", source)))
        queue.submit(Migration(f"vm{number:02d}", source, others, order=number, closest=1))
    wall, _peaks, order = simulate(queue)
    assert wall <= 5.0 * 4, wall  # 12 jobs, 4 at once at most (9 slots, 2 each)
    assert sum(migration.destination == "OLD" for migration in order) >= 3  # and the closest fit kept busy


def test_the_host_with_the_most_work_per_slot_is_served_first():
    # A has 3 VMs to send and one slot; D has 1 VM and one slot; both go to the roomy host Z (a single slot left).
    queue = Queue(Slots({"A": 1, "D": 1, "Z": 1}))
    queue.submit(Migration("from-d", "D", ("Z",), order=1))
    for number in range(3):
        queue.submit(Migration(f"from-a{number}", "A", ("Z",), order=2 + number))
    assert [migration.vm for migration in queue.start()] == ["from-a0"]


def test_a_host_whose_limit_is_unknown_takes_one_at_a_time():
    queue = Queue(Slots({"A": 2, "B": None}))
    queue.submit(Migration("vm1", "A", ("B",)))
    queue.submit(Migration("vm2", "A", ("B",)))
    assert len(queue.start()) == 1


def test_a_migration_without_a_destination_is_refused():
    with pytest.raises(ValueError, match="vm1: a migration needs at least one destination"):
        Queue(Slots({"A": 1})).submit(Migration("vm1", "A", ()))


@settings(max_examples=150, deadline=None)
@given(limits=st.lists(st.integers(1, 3), min_size=2, max_size=8),
       vms=st.lists(st.integers(0, 8), min_size=8, max_size=8),
       reach=st.integers(1, 7))
def test_uneven_waves_hold_every_limit_and_stay_near_their_bound(limits, vms, reach):
    hosts = {f"H{index}": limit for index, limit in enumerate(limits)}
    names = list(hosts)
    per_host = dict(zip(names, vms))

    def destinations(source):  # VMs that fit only some hosts: the next `reach` hosts after their own
        start = names.index(source)
        return tuple(names[(start + step) % len(names)] for step in range(1, min(reach, len(names) - 1) + 1))

    queue = wave(per_host, hosts, destinations)
    total = len(queue.waiting)
    wall, _peaks, order = simulate(queue, duration=lambda migration: 5.0)
    assert len(order) == total
    if total:
        # The bound: the busiest host's migrations x job time / its limit, and all jobs / the most that can run at once.
        load = {}
        for migration in order:
            for host in (migration.source, migration.destination):
                load[host] = load.get(host, 0) + 1
        busiest = max(load[host] * 5.0 / hosts[host] for host in load)
        at_once = max(1, sum(hosts.values()) // 2)
        bound = max(busiest, total * 5.0 / at_once, 5.0)
        assert wall <= 1.5 * bound, (wall, bound)


def test_a_cap_of_the_users_holds_below_the_limits():
    queue = wave({"A": 3, "B": 3}, {"A": 3, "B": 3, "C": 3})
    assert len(queue.start(cap=2)) == 2 and queue.start(cap=2) == []


def test_a_destination_without_room_is_passed_over_and_memory_follows_the_vms():
    # HV02 has room for one 8 GB VM, HV03 for four: two VMs equally good on both go one to each, never two to HV02
    queue = Queue(Slots({"HV01": 2, "HV02": 2, "HV03": 2}), Room({"HV01": 0, "HV02": 8192, "HV03": 32768}))
    for number in (1, 2):
        queue.submit(Migration(f"vm{number}", "HV01", ("HV02", "HV03"), order=number, needed_mb=8192))
    started = queue.start()
    assert sorted(migration.destination for migration in started) == ["HV02", "HV03"]
    assert queue.room.for_vms == {"HV01": 0, "HV02": 0, "HV03": 24576}
    to_hv02, to_hv03 = sorted(started, key=lambda migration: migration.destination)
    queue.finish(to_hv02, moved=True)  # that VM left HV01: its memory is free there now, and held on HV02
    queue.finish(to_hv03, moved=False)  # that one failed: HV03 gets back what it held
    assert queue.room.for_vms == {"HV01": 8192, "HV02": 0, "HV03": 32768}


def test_a_migration_whose_destinations_all_lack_room_waits_and_says_where():
    queue = Queue(Slots({"HV01": 2, "HV02": 2}), Room({"HV02": 4096}))
    big = Migration("big", "HV01", ("HV02",), needed_mb=8192)
    queue.submit(big)
    assert queue.start() == [] and queue.waiting == [big]
    assert queue.short_of_room(big) == ["HV02"]


def test_unknown_memory_is_not_counted():
    queue = Queue(Slots({"HV01": 2, "HV02": 2}), Room({"HV02": None}))
    queue.submit(Migration("vm1", "HV01", ("HV02",), needed_mb=8192))
    queue.submit(Migration("vm2", "HV01", ("HV02",)))
    assert len(queue.start()) == 2


def test_a_wave_that_naive_placement_would_overfill_fits_every_vm_where_it_has_room():
    # 12 VMs of 4 GB leave HV01; HV02 and HV03 have room for 2 each, HV04 and HV05 for 4 each: exactly enough
    room = Room({"HV01": 0, "HV02": 8192, "HV03": 8192, "HV04": 16384, "HV05": 16384})
    queue = Queue(Slots({host: 2 for host in room.for_vms}), room)
    for number in range(12):
        queue.submit(Migration(f"vm{number:02d}", "HV01", ("HV02", "HV03", "HV04", "HV05"), order=number, needed_mb=4096))
    _wall, _peaks, order = simulate(queue)
    placed = {host: sum(1 for migration in order if migration.destination == host) for host in room.for_vms}
    assert placed == {"HV01": 0, "HV02": 2, "HV03": 2, "HV04": 4, "HV05": 4} and not queue.waiting


def test_nothing_starts_on_a_host_with_live_migration_off_and_a_vm_goes_to_its_open_alternative():
    queue = Queue(Slots({"SRC": 4, "OFF": 2, "ON": 2}))
    queue.slots.closed.add("OFF")
    queue.submit(Migration("vm1", "SRC", ("OFF", "ON")))  # OFF first: its rank, and the most free slots otherwise
    queue.submit(Migration("vm2", "SRC", ("OFF",)))
    started = queue.start()
    assert [(migration.vm, migration.destination) for migration in started] == [("vm1", "ON")]
    assert [migration.vm for migration in queue.waiting] == ["vm2"]
    assert queue.closed_to(queue.waiting[0]) == ["OFF"] and queue.hopeless(queue.waiting[0])
    queue.slots.closed.discard("OFF")  # turned on again
    assert [migration.vm for migration in queue.start()] == ["vm2"]


@pytest.mark.parametrize("closed, short, blocking", [
    ({"SRC"}, set(), ["SRC"]),  # its source: nothing can leave
    ({"A"}, {"B"}, ["A"]),  # one destination off, the other without room
    ({"A", "B"}, set(), ["A", "B"]),
    ({"A"}, set(), []),  # B is open: waiting for a slot there may help
], ids=["source", "off-and-short", "every-destination", "one-open"])
def test_closed_to_names_the_hosts_that_keep_a_migration_from_starting(closed, short, blocking):
    queue = Queue(Slots({"SRC": 2, "A": 2, "B": 2}), Room({host: 0 for host in short}))
    queue.slots.closed.update(closed)
    migration = Migration("vm1", "SRC", ("A", "B"), needed_mb=1024)
    assert queue.closed_to(migration) == blocking
    assert queue.hopeless(migration) is bool(blocking)
