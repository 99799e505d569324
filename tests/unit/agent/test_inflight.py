"""InFlight: nested and concurrent operations on one instance."""

import threading

from agent.inflight import InFlight


def test_a_key_is_in_flight_until_its_last_operation_ends():
    in_flight = InFlight()
    with in_flight.operating('a') as key:
        assert key == 'a' and 'a' in in_flight and 'b' not in in_flight
        with in_flight.operating('a'):
            pass
        assert 'a' in in_flight
    assert 'a' not in in_flight


def test_an_operation_that_raises_still_ends():
    in_flight = InFlight()
    try:
        with in_flight.operating('a'):
            raise RuntimeError('boom')
    except RuntimeError:
        pass
    assert 'a' not in in_flight


def test_concurrent_operations_leave_nothing_behind():
    in_flight = InFlight()

    def work():
        for _ in range(2000):
            with in_flight.operating('a'):
                assert 'a' in in_flight
    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert 'a' not in in_flight and not in_flight._counts
