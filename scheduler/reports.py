"""Host reports, coalesced per host and worked by a bounded number of threads.

Every agent reports every few seconds; a busy or slow scheduler must not let
them pile up behind its lock, where they took every RPC executor thread and
starved the boots (the chaos suite: 24 hosts, 56 of 64 threads waiting in
report_host for minutes).  So:

* a host has at most one report waiting: a newer one supersedes it (a report
  is a snapshot; the newest says all an older one would), and it is checked
  only when worked, so a superseded report costs its host name's check only;
* at most ``[scheduler] report_workers`` threads work reports at a time; a
  report that finds them all busy is left for them and its RPC thread returns
  at once (the agent's cast needs no answer; a first-report call is answered
  as taken);
* one host's reports are worked one at a time, in order.

How a report is worked (the store heartbeat, reconciliation, the warm view)
is the manager's (scheduler.manager.SchedulerManager._apply_report).
"""

import collections
import dataclasses
import logging
import threading

from oslo_config import cfg

from wire import names, ratelimit, rpc
from wire.errors import FieldError, InvalidInput

LOG = logging.getLogger(__name__)

report_opts = [
    cfg.IntOpt('report_workers', default=2, min=1,
               help='Most RPC threads working host reports at once; the reports of other '
                    'hosts wait (the newest per host) and their threads go back to serve '
                    'boots and other calls.'),
]
cfg.CONF.register_opts(report_opts, group='scheduler')

# Most hosts with a report waiting: the reports of a 20,000-host fleet all at once.
# A report of one more host is refused, so a flood of made-up host names (possible
# where reports need no signature) cannot grow the queue without bound.
MAX_WAITING_HOSTS = 20000

# Most seconds an agent may say its domain listing is older than its report
# (scheduler RPC 1.8); an older listing is refused as a broken report.
MAX_LISTING_AGE_S = 600.0


def list_opts():
    return [('scheduler', report_opts)]


@dataclasses.dataclass(frozen=True)
class Report:
    """A host report as it came (checked when worked: one superseded costs nothing)
    and when the scheduler received it."""

    host: dict
    instances: object
    listing_age: object
    received: float


def host_of(host):
    """The reporting host's name, checked (the key a report waits under)."""
    rpc.check(host, dict, 'host')
    return names.host_name(host.get('name'), 'host.name')


def listed_at(received, listing_age):
    """When the agent listed its domains, on the scheduler's clock.

    ``listing_age`` (1.8, untrusted) is how old the listing was when the agent
    sent the report, on the agent's own monotonic clock: no wall clocks are
    compared.  None (an older agent) is the receive time, as before.
    """
    if listing_age is None:
        return received
    if isinstance(listing_age, bool) or not isinstance(listing_age, (int, float)):
        raise rpc.invalid('listing_age', f"expected a number, got {type(listing_age).__name__}")
    if not 0 <= listing_age <= MAX_LISTING_AGE_S:     # NaN and infinities too
        raise rpc.invalid('listing_age', f"{rpc.shown(listing_age)} is not a number of "
                                         f"seconds from 0 to {MAX_LISTING_AGE_S:g}")
    return received - listing_age


class ReportQueue:
    """The newest waiting report per host, worked by at most ``workers`` threads."""

    def __init__(self, work, workers=None, max_waiting=MAX_WAITING_HOSTS):
        self.work = work            # work(report) -> answer
        self.workers = workers
        self.max_waiting = max_waiting
        self._lock = threading.Lock()
        self._waiting = collections.OrderedDict()    # host -> newest Report, oldest first
        self._busy = set()          # hosts whose report a thread is working
        self._working = 0           # threads working reports
        self.superseded = 0         # reports replaced by a newer one before their turn

    def _limit(self):
        return self.workers or cfg.CONF.scheduler.report_workers

    def submit(self, host, report):
        """Work ``report`` now in this thread (its answer), or leave it to the threads
        already working (None); then work what waits until nothing does."""
        with self._lock:
            if self._waiting.pop(host, None) is not None:
                self.superseded += 1
            elif len(self._waiting) >= self.max_waiting:
                raise rpc.BusError(rpc.OPERATION_FAILED, f"report of host {host} refused: "
                                   f"{len(self._waiting)} hosts' reports wait already")
            self._waiting[host] = report
            if self._working >= self._limit():
                return None
            self._working += 1
        answer = None
        try:
            taken = self._take(host)
            if taken is not None:
                answer = self._work_one(host, taken)
        finally:
            self._drain()
        return answer

    def _take(self, host):
        """The waiting report of ``host`` (newest), marked busy; None if another
        thread works the host (it works this one next) or took it already."""
        with self._lock:
            if host in self._busy or host not in self._waiting:
                return None
            self._busy.add(host)
            return self._waiting.pop(host)

    def _work_one(self, host, report):
        try:
            return self.work(report)
        finally:
            with self._lock:
                self._busy.discard(host)

    def _drain(self):
        """Work the waiting reports of hosts no other thread works; leave when none."""
        while True:
            with self._lock:
                host = next((h for h in self._waiting if h not in self._busy), None)
                if host is None:
                    self._working -= 1
                    return
                report = self._waiting.pop(host)
                self._busy.add(host)
            refused = None
            try:
                self._work_one(host, report)
            except (rpc.BusError, FieldError, InvalidInput) as exc:
                refused = exc
            except Exception:   # the report's own thread went back long ago: only a log
                LOG.exception('Report of host %s failed', host)
            if refused is not None:     # outside the except block: one line, no traceback
                line = refused.one_line() if isinstance(refused, rpc.BusError) else \
                    f"InvalidInput: {refused}"
                ratelimit.rejections().warning('report_host of %s rejected: %s', host, line)

    def waiting(self):
        with self._lock:
            return len(self._waiting)
