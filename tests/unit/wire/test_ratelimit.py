"""wire.ratelimit: a flood of rejected messages gives a bounded number of log lines."""

import logging

import pytest

from wire import ratelimit


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


@pytest.fixture
def limited(caplog):
    clock = Clock()
    log = ratelimit.RejectionLog(logging.getLogger('test.rejections'), rate=1.0, burst=3,
                                 summary_interval=10.0, clock=clock)
    caplog.set_level(logging.WARNING, logger='test.rejections')
    return log, clock, caplog


def test_a_burst_is_logged_then_counted_then_summarised(limited):
    log, clock, caplog = limited
    assert [log.warning('bad %d', i) for i in range(5)] == [True, True, True, False, False]
    assert caplog.messages == ['bad 0', 'bad 1', 'bad 2']
    clock.now = 1.0                                   # one token back
    assert log.warning('bad 5') is True
    assert caplog.messages[-1] == 'bad 5'
    clock.now = 10.0                                  # the summary interval has passed
    assert log.warning('bad 6') is True
    assert caplog.messages[-2:] == ['2 rejected messages not logged (rate limit [DEFAULT] '
                                    'rpc_rejection_log_rate)', 'bad 6']


def test_a_long_flood_logs_at_the_rate_plus_one_summary_per_interval(limited):
    log, clock, caplog = limited
    for step in range(100_000):                      # 1,000 messages a second for 100 s
        clock.now = step / 1000
        log.warning('bad')
    assert len(caplog.records) <= 3 + 100 + 100 // 10 + 1
    clock.now = 200.0
    log.warning('bad')                                # the flood's tail is summarised now
    counted = sum(int(m.split()[0]) for m in caplog.messages if 'not logged' in m)
    assert counted + caplog.messages.count('bad') == 100_001


def test_summaries_come_during_the_flood_even_without_tokens(caplog):
    clock = Clock()
    log = ratelimit.RejectionLog(logging.getLogger('test.summary'), rate=0.01, burst=1,
                                 summary_interval=10.0, clock=clock)
    caplog.set_level(logging.WARNING, logger='test.summary')
    for step in range(25):
        clock.now = float(step)
        log.warning('bad')
    assert caplog.messages == ['bad', '9 rejected messages not logged (rate limit [DEFAULT] '
                               'rpc_rejection_log_rate)', '10 rejected messages not logged '
                               '(rate limit [DEFAULT] rpc_rejection_log_rate)']


def test_long_lines_are_cut():
    assert ratelimit.clip('x' * 10, 4) == 'xxxx... (10 chars)'
    assert ratelimit.clip('short') == 'short'


def test_the_guarded_loggers_are_the_ones_oslo_messaging_logs_on():
    from oslo_messaging._drivers import amqpdriver, impl_rabbit, pool
    from oslo_messaging.rpc import server
    names = {getattr(module.LOG, 'logger', module.LOG).name       # oslo.log adapters or not
             for module in (impl_rabbit, amqpdriver, server, pool)}
    assert names == set(ratelimit.DRIVER_LOGGERS + ratelimit.FLOODED_LOGGERS)


def test_oslo_messaging_tracebacks_become_one_line_within_the_budget(caplog):
    from oslo_messaging._drivers import impl_rabbit
    ratelimit.reset()
    ratelimit.guard_driver_logs()
    caplog.set_level(logging.WARNING)
    for _ in range(200):
        try:
            raise ValueError('Expecting value: line 1 column 1 (char 0)')
        except ValueError:
            impl_rabbit.LOG.exception('Failed to process message ... skipping it.')
    impl_rabbit.LOG.error('AMQP server is unreachable')  # no traceback: not about a message
    lines = [r for r in caplog.records if r.name == 'oslo.messaging._drivers.impl_rabbit']
    assert 1 < len(lines) <= 21
    assert lines[0].getMessage() == ('Failed to process message ... skipping it.: ValueError: '
                                     'Expecting value: line 1 column 1 (char 0)')
    assert all(r.exc_info is None for r in caplog.records)
    assert lines[-1].getMessage() == 'AMQP server is unreachable'


def test_the_pool_warning_of_a_flood_is_within_the_budget(caplog):
    from oslo_messaging._drivers import pool
    ratelimit.reset()
    ratelimit.guard_driver_logs()
    caplog.set_level(logging.WARNING)
    for _ in range(500):
        pool.LOG.warning('Connection pool limit exceeded: current size %s', 30)
    assert len([r for r in caplog.records if r.name == 'oslo.messaging._drivers.pool']) <= 20
