"""A rate-limited log for rejected messages, so a flood of bad input cannot fill the disk.

Each service process has one token bucket: a rejected message costs a token and is
logged as one line; without a token it is only counted.  The count comes out as one
"N rejected messages not logged" line at most every ``summary_interval`` seconds, with
the first rejection after that interval.
"""

import logging
import threading
import time

from oslo_config import cfg

CONF = cfg.CONF
LINE_LIMIT = 400    # characters of one logged line about a rejected message

rejection_log_opts = [
    cfg.FloatOpt('rpc_rejection_log_rate', default=2.0, min=0.01,
                 help='Lines per second (sustained) a service logs about rejected RPC '
                      'messages; the rest are counted and reported as one "suppressed" '
                      'line at most every rpc_rejection_log_summary_interval seconds.'),
    cfg.IntOpt('rpc_rejection_log_burst', default=20, min=1,
               help='Rejected RPC messages logged one line each in a burst before '
                    'rpc_rejection_log_rate applies.'),
    cfg.FloatOpt('rpc_rejection_log_summary_interval', default=10.0, min=0.1,
                 help='Seconds between two "suppressed N rejected messages" lines '
                      'during a flood.'),
]
CONF.register_opts(rejection_log_opts)


def list_opts():
    return [('DEFAULT', rejection_log_opts)]


class RejectionLog:
    """Logs one line per rejected message within a token-bucket budget."""

    def __init__(self, logger, rate, burst, summary_interval, clock=time.monotonic):
        self.logger = logger
        self.rate = rate
        self.burst = burst
        self.summary_interval = summary_interval
        self.clock = clock
        self.tokens = float(burst)
        self.suppressed = 0
        self.last_refill = self.last_summary = clock()
        self.lock = threading.Lock()

    def _take(self, now):
        self.tokens = min(self.burst, self.tokens + (now - self.last_refill) * self.rate)
        self.last_refill = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False

    def _summary(self, now):
        """The count of lines not logged since the last summary, if it is time to say it."""
        if not self.suppressed:
            return 0
        count, self.suppressed, self.last_summary = self.suppressed, 0, now
        return count

    def admit(self):
        """Whether one more line may be logged now (else it is counted)."""
        now = self.clock()
        with self.lock:
            allowed = self._take(now)
            due = now - self.last_summary >= self.summary_interval
            count = self._summary(now) if due else 0
            if not allowed:
                self.suppressed += 1
        if count:
            self.logger.warning('%d rejected messages not logged (rate limit '
                                '[DEFAULT] rpc_rejection_log_rate)', count)
        return allowed

    def log(self, level, message, *args, exc_info=None):
        """Log ``message`` (cut to LINE_LIMIT characters) if the budget allows."""
        if not self.admit():
            return False
        text = (message % args) if args else message
        self.logger.log(level, '%s', clip(text), exc_info=exc_info)
        return True

    def warning(self, message, *args):
        return self.log(logging.WARNING, message, *args)


def clip(text, limit=None):
    """``text`` cut to ``limit`` characters (default LINE_LIMIT), marked when cut."""
    limit = LINE_LIMIT if limit is None else limit
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} chars)"


class DriverLogGuard(logging.Filter):
    """oslo.messaging's own errors about messages it cannot read or answer: one line
    without traceback each, within the service's rejection budget."""

    def __init__(self, every_warning=False):
        super().__init__()
        self.every_warning = every_warning

    def filter(self, record):
        if record.levelno < logging.WARNING:
            return True
        if not record.exc_info and not self.every_warning:
            return True     # connection trouble and the like: not about a message
        if not rejections().admit():
            return False
        text = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            text = f"{text}: {type(error).__name__}: {error}"
        record.msg, record.args = clip(text), None
        record.exc_info = record.exc_text = record.stack_info = None
        return True


# oslo.messaging's loggers that report unreadable messages with a traceback each, and the
# pool that warns once per reply under a flood (the modules that log through oslo.log are
# named oslo.messaging.*, the others oslo_messaging.*).
DRIVER_LOGGERS = ('oslo.messaging._drivers.impl_rabbit', 'oslo_messaging._drivers.amqpdriver',
                  'oslo_messaging.rpc.server')
FLOODED_LOGGERS = ('oslo.messaging._drivers.pool',)
_GUARDS = {False: DriverLogGuard(), True: DriverLogGuard(every_warning=True)}


def guard_driver_logs():
    """Put the guards on oslo.messaging's loggers (idempotent)."""
    for names, guard in ((DRIVER_LOGGERS, _GUARDS[False]), (FLOODED_LOGGERS, _GUARDS[True])):
        for name in names:
            logger = logging.getLogger(name)
            if guard not in logger.filters:
                logger.addFilter(guard)


_LOGS = {}
_LOGS_LOCK = threading.Lock()


def rejections(logger_name='wire.rpc'):
    """The process's RejectionLog for ``logger_name`` (one bucket per service process)."""
    with _LOGS_LOCK:
        if logger_name not in _LOGS:
            _LOGS[logger_name] = RejectionLog(
                logging.getLogger(logger_name), CONF.rpc_rejection_log_rate,
                CONF.rpc_rejection_log_burst, CONF.rpc_rejection_log_summary_interval)
        return _LOGS[logger_name]


def reset():
    """Forget the buckets (tests change the options)."""
    with _LOGS_LOCK:
        _LOGS.clear()
