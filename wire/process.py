"""What every kvmfleet service process does the same way, as an OpenStack operator expects.

- SIGTERM, SIGINT: set ``stop_event``; the service stops gracefully.
- SIGHUP (``systemctl reload``, logrotate): the log files are reopened and the
  options marked ``mutable`` are reloaded from the config files
  (oslo.config ``mutate_config_files``), then each service hook gets the
  changes.  The signal handler only sets an event: the reload runs in its own
  thread, never inside whatever code the signal interrupted.
- SIGUSR2: a Guru Meditation Report (oslo.reports: threads, configuration,
  version) on stderr, or in ``[oslo_reports] log_dir``.
- At start the release and the effective options are logged (secrets masked);
  systemd hears READY=1, RELOADING=1 and STOPPING=1 (wire/systemd.py).

Python runs signal handlers in the main thread only, and only when it runs
Python code; the kernel may deliver a signal to any thread.  So the main
thread does not sleep in ``Event.wait()`` (it would not wake for a signal
another thread received) but in ``select`` on the signal wakeup fd, which
the C-level handler writes to whichever thread took the signal.

oslo.service's launchers are not used: they own the main loop and fork
workers around their own service classes, while each kvmfleet service is a
few threads around oslo.messaging servers; this module adds only the habits.
"""

import logging
import select
import signal
import socket
import threading

from oslo_config import cfg
from oslo_reports import guru_meditation_report as gmr
from oslo_reports import opts as reports_opts

from wire import systemd
from wire.version import ReleaseInfo, version_string

LOG = logging.getLogger(__name__)
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
WAKEUP_PERIOD = 1.0      # seconds; the main thread also wakes on every signal


def register_opts(conf):
    """``[oslo_reports]`` (log_dir, file_event_handler) on ``conf``."""
    for group, options in reports_opts.list_opts():
        conf.register_opts(options, group=group)


register_opts(cfg.CONF)


def reopen_log_files(logger=None):
    """Reopen every file handler of ``logger`` (root by default); how many were reopened.

    After logrotate moved a file away, the handler still writes to the moved
    file; reopening by name starts the new one.
    """
    reopened = 0
    for handler in (logger or logging.getLogger()).handlers:
        if not isinstance(handler, logging.FileHandler):
            continue
        try:
            stream = handler._open()
        except OSError as exc:
            LOG.warning('Log file %s not reopened: %s', handler.baseFilename, exc)
            continue
        old = handler.setStream(stream)
        if old is not None:
            old.close()
        reopened += 1
    return reopened


class InvalidReload(ValueError):
    """A config file as it is now cannot be applied; nothing was changed."""


def mutable_options(conf):
    """(group name or None, Opt) of every option of ``conf`` marked mutable."""
    # oslo.config has no public listing of registered Opt objects; its own
    # immutability check walks the same private iterator.
    return [(group.name if group else None, info['opt'])
            for info, group in conf._all_opt_infos() if info['opt'].mutable]


def check_reload(conf):
    """Parse the config files as they are now into a scratch ConfigOpts, every mutable
    option read once: InvalidReload naming the first bad one.

    ``mutate_config_files`` itself would apply an unreadable value (and read it
    only later, failing then) or exit on a bad value of a command-line option.
    """
    options = mutable_options(conf)
    scratch = cfg.ConfigOpts()
    for group, option in options:
        scratch.register_opt(option, group=group)
    try:
        scratch(args=[], default_config_files=list(conf.config_file or []),
                default_config_dirs=list(conf.config_dir or []), use_env=False)
    except (cfg.Error, ValueError) as exc:
        raise InvalidReload(str(exc))
    for group, option in options:
        try:
            (scratch[group] if group else scratch)[option.dest]
        except (cfg.Error, ValueError) as exc:
            raise InvalidReload(f"[{group or 'DEFAULT'}] {option.dest}: {exc}")


class ServiceProcess:
    """Signals, reload, report and readiness of one service process."""

    def __init__(self, name, conf=cfg.CONF):
        self.name = name
        self.conf = conf
        self.stop_event = threading.Event()
        self._hangup = threading.Event()
        self._hooks = []
        self._reloader = None
        self._wakeup = None        # (read end, write end) of the signal wakeup socket pair

    def on_reload(self, hook):
        """Call ``hook(changed)`` after each successful reload (changed: oslo.config's dict)."""
        self._hooks.append(hook)

    def install_signals(self):
        """Stop and reload handlers, and the report on SIGUSR2; main thread only."""
        for signum in STOP_SIGNALS:
            signal.signal(signum, self._stop_requested)
        signal.signal(signal.SIGHUP, self._reload_requested)
        gmr.TextGuruMeditation.setup_autorun(ReleaseInfo(), service_name=self.name,
                                             conf=self.conf)
        self._wakeup = socket.socketpair()
        for end in self._wakeup:
            end.setblocking(False)
        signal.set_wakeup_fd(self._wakeup[1].fileno(), warn_on_full_buffer=False)

    def wait_for_stop(self):
        """Sleep in the main thread until a stop signal, running signal handlers at once."""
        while not self.stop_event.is_set():
            if self._wakeup is None:               # no handlers installed: nothing to run
                self.stop_event.wait(WAKEUP_PERIOD)
                continue
            readable, _, _ = select.select([self._wakeup[0]], [], [], WAKEUP_PERIOD)
            if readable:
                self._wakeup[0].recv(4096)          # the signal numbers; handlers say what

    def start(self):
        """Log the release and the options, then serve reloads; after logging is set up."""
        LOG.info('%s %s starting', self.name, version_string())
        self.conf.log_opt_values(LOG, logging.DEBUG)
        self._reloader = threading.Thread(target=self._reload_loop, daemon=True,
                                          name=f'{self.name}-reload')
        self._reloader.start()

    def ready(self, status):
        """The service serves: tell systemd (and the log)."""
        LOG.info('%s ready: %s', self.name, status)
        systemd.notify(systemd.READY, f"STATUS={status}")

    def stopping(self):
        """The service begins to stop."""
        systemd.notify(systemd.STOPPING)
        self._hangup.set()     # wake the reload thread so it ends

    def _stop_requested(self, signum, frame):
        self.stop_event.set()

    def _reload_requested(self, signum, frame):
        self._hangup.set()

    def _reload_loop(self):
        while True:
            self._hangup.wait()
            self._hangup.clear()
            if self.stop_event.is_set():
                return
            self.reload()

    def reload(self):
        """Reopen logs, reload mutable options, run the hooks; the changes or None."""
        systemd.notify(*systemd.reloading())
        reopen_log_files()
        try:
            check_reload(self.conf)
            changed = self.conf.mutate_config_files()
        except (cfg.Error, ValueError, SystemExit) as exc:
            # SystemExit: argparse's answer to a bad command-line option value, should
            # a file change between the check and the reload; it must not end this thread.
            LOG.error('Reload refused, the running configuration stays: %s', exc)
            systemd.notify(systemd.READY)
            return None
        for hook in self._hooks:
            try:
                hook(changed)
            except Exception:
                LOG.exception('Reload hook %s failed', getattr(hook, '__name__', hook))
        LOG.info('Configuration reloaded: %d mutable option(s) changed', len(changed))
        self.conf.log_opt_values(LOG, logging.DEBUG)
        systemd.notify(systemd.READY)
        return changed
