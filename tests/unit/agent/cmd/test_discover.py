"""`kvmfleet-agent discover`: argument handling, JSON and table output, errors."""

import argparse
import io
import json

import pytest
from oslo_config import cfg

from agent.cmd import discover, service
from agent.discovery import opts
from tests.unit.agent.fakes import DATA, FixtureConnection
from wire.files import parse_fleet

NODEDEVS = [DATA / name for name in ('nodedev_pf_0000_81_00_0.xml',
                                     'nodedev_vf_0000_81_10_0.xml',
                                     'nodedev_nic_0000_00_19_0.xml')]


@pytest.fixture
def conf():
    private = cfg.ConfigOpts()
    opts.register_opts(private)
    private([], project='kvmfleet-test', default_config_files=[])
    private.set_override('cpu_dedicated_set', '2-7,10-15', 'compute')
    private.set_override('cpu_shared_set', '0-1,8-9', 'compute')
    private.set_override('device_spec', ['{"address": "0000:81:00.0", '
                                         '"physical_network": "physnet1"}'], 'pci')
    private.set_override('connection_uri', 'fixture:///smt', 'libvirt')
    return private


def _factory(opened):
    def factory(uri):
        conn = FixtureConnection.from_files(
            DATA / 'caps_2cell_smt_hugepages.xml', domcaps=DATA / 'domcaps_q35_uefi_secboot.xml',
            nodedevs=NODEDEVS, hostname='compute-7', uri=uri,
            free={0: {2048: 1000, 1048576: 2}, 1: {2048: 512}})
        opened.append(conn)
        return conn
    return factory


def _run(conf, fmt):
    out, err, opened = io.StringIO(), io.StringIO(), []
    status = discover.run(argparse.Namespace(format=fmt), conf, _factory(opened), out, err)
    return status, out.getvalue(), err.getvalue(), opened


def test_json_is_a_one_host_fleet_file(conf):
    status, out, err, opened = _run(conf, 'json')
    assert (status, err) == (0, '')
    [host] = parse_fleet(json.loads(out))
    assert host.name == 'compute-7'
    assert host.cell(0).cpus == {2, 3, 10, 11} and host.cell(0).shared_cpus == {0, 1, 8, 9}
    assert [d.address for d in host.pci_devices] == ['0000:81:00.0', '0000:81:10.0']
    assert opened[0].uri == 'fixture:///smt' and opened[0].closed


def test_table_shows_each_cell_pools_with_free_and_devices(conf):
    status, out, _, _ = _run(conf, 'table')
    assert status == 0
    lines = out.splitlines()
    assert lines[0] == ('host compute-7  virt_type kvm  sev_slots 0  secure_boot yes  '
                        'sev_es_slots 0  sev_snp no')
    cell_rows = [line.split() for line in lines if line.lstrip().startswith(('0 ', '1 '))]
    assert cell_rows[0][:7] == ['0', '2-3,10-11', '0-1,8-9', '16384', '256', '12032', '0']
    assert '2048: 1024/1000, 1048576: 2/2' in lines[3]
    assert cell_rows[1][:6] == ['1', '4-7,12-15', '-', '16384', '256', '15104']
    assert any('0000:81:10.0' in line and 'type-VF' in line and 'physnet1' in line
               for line in lines)
    assert lines[-1].startswith('traits: COMPUTE_SECURITY_STATELESS_FIRMWARE, '
                                'COMPUTE_SECURITY_UEFI_SECURE_BOOT, HW_ARCH_X86_64')
    assert not any('skipped' in line for line in lines)


def test_config_errors_exit_1_with_the_option_named(conf):
    conf.set_override('cpu_shared_set', '0-3', 'compute')
    status, out, err, opened = _run(conf, 'json')
    assert (status, out) == (1, '')
    assert err.startswith('kvmfleet-agent discover: [compute] cpu_shared_set: CPUs 2-3')
    assert opened[0].closed


def test_unreachable_libvirt_exits_1(conf):
    out, err = io.StringIO(), io.StringIO()
    status = discover.run(argparse.Namespace(format='json'), conf,
                          lambda uri: discover.LibvirtConnection('bogus:///nowhere'), out, err)
    assert status == 1 and 'libvirt open bogus:///nowhere failed' in err.getvalue()


def test_parser_has_discover_with_formats_and_leaves_config_args_to_oslo():
    parser = service.build_parser()
    args, rest = parser.parse_known_args(['discover', '--format', 'table',
                                          '--config-file', '/x.conf'])
    assert (args.command, args.format, rest) == ('discover', 'table', ['--config-file',
                                                                       '/x.conf'])
    assert parser.parse_known_args(['discover'])[0].format == 'json'
    with pytest.raises(SystemExit):
        parser.parse_known_args(['discover', '--format', 'xml'])



def test_no_arguments_and_no_config_file_prints_help(monkeypatch, capsys):
    from agent.cmd import service
    monkeypatch.setattr(service.cfg, 'find_config_files', lambda **kw: [])
    assert service.main([]) == 2
    assert 'usage: kvmfleet-agent' in capsys.readouterr().err


def test_no_arguments_with_a_default_config_file_runs_the_service(monkeypatch):
    from agent.cmd import service
    ran = []
    monkeypatch.setattr(service.cfg, 'find_config_files',
                        lambda **kw: ['/etc/kvmfleet/kvmfleet.conf'])
    monkeypatch.setattr(service, 'load_config', lambda conf_args: None)
    monkeypatch.setattr(service.run, 'run', lambda args: ran.append(args) or 0)
    assert service.main([]) == 0
    assert len(ran) == 1
