"""The real agent's wiring: what discovery found reaches the instance driver, and the
start-up order (clean up, then serve)."""

import threading

import pytest
from oslo_config import cfg

from agent import driver_opts, manager
from agent.cmd import run
from agent.discovery import opts
from tests.unit.agent.fakes import DATA, FixtureConnection


@pytest.fixture
def conf():
    private = cfg.ConfigOpts()
    opts.register_opts(private)
    driver_opts.register_opts(private)
    for group, options in run.list_opts() + manager.list_opts():
        private.register_opts(options, group=group)
    private([], project='kvmfleet-test', default_config_files=[])
    private.set_override('cpu_dedicated_set', '2-7,10-15', 'compute')
    private.set_override('virt_type', 'qemu', 'libvirt')
    return private


@pytest.mark.parametrize('capture, cbitpos, secure_boot', [
    ('virtmanager_kvm-x86_64-domcaps-amd-sev.xml', 51, False),
    ('virtmanager_kvm-x86_64-domcaps-latest.xml', None, True),
])
def test_real_host_gives_the_driver_sev_and_secure_boot_from_domcaps(
        conf, monkeypatch, shared_fixtures, capture, cbitpos, secure_boot):
    def connect(uri):
        return FixtureConnection.from_files(
            DATA / 'caps_2cell_smt_hugepages.xml',
            domcaps=shared_fixtures / 'domcaps' / capture, hostname='compute-7', uri=uri)
    monkeypatch.setattr(run, 'LibvirtConnection', connect)
    manager, name = run.real_host(conf, scheduler_api=None)
    assert name == 'compute-7'
    features = manager.driver.host_features
    assert features['sev_cbitpos'] == cbitpos
    assert features['secure_boot_available'] is secure_boot


def test_a_host_name_that_breaks_the_name_rule_stops_the_agent_at_start(conf, monkeypatch):
    def connect(uri):
        return FixtureConnection.from_files(DATA / 'caps_2cell_smt_hugepages.xml',
                                            domcaps=DATA / 'domcaps_q35_uefi_secboot.xml',
                                            hostname='compute-7', uri=uri)
    monkeypatch.setattr(run, 'LibvirtConnection', connect)
    conf.set_override('host', '../../etc/passwd', 'agent')
    with pytest.raises(ValueError) as caught:
        run.real_host(conf, scheduler_api=None)
    assert str(caught.value).startswith(
        "[agent] host (or libvirt's host name): '../../etc/passwd' is not a valid name: "
        'a host name is 1-200 ASCII letters')


class Step:
    """A manager, RPC server or service that writes down what is done to it, in order."""

    def __init__(self, name, steps):
        self.name, self.steps = name, steps
        self.taken = threading.Event()
        self.taken.set()

    def __getattr__(self, method):
        return lambda *args, **kwargs: self.steps.append(f"{self.name}.{method}")

    def report_due(self, *args):
        return False


def test_an_agent_cleans_up_each_host_before_it_takes_builds():
    steps = []
    service = Step('service', steps)
    run.serve([Step('host', steps)], [Step('server', steps)], service)
    assert steps.index('host.startup') < steps.index('server.start')
