"""agent.discovery.shaping: the tc probe's verdict, from what its shell script printed."""

import subprocess

import pytest

from agent.discovery import shaping


def runner(stdout='', returncode=0, stderr='', raises=None):
    calls = []

    def run(command, **kwargs):
        calls.append(command)
        if raises:
            raise raises
        return subprocess.CompletedProcess(command, returncode, stdout, stderr)
    run.calls = calls
    return run


def test_every_step_passing_means_able_and_runs_in_a_namespace_of_its_own():
    run = runner()
    assert shaping.probe(run) == shaping.Shaping(True)
    command = run.calls[0]
    assert command[:2] == ['unshare', '--net']
    for _, step in shaping.STEPS:
        assert step in command[-1]


def test_failed_steps_are_the_reason():
    run = runner('FAILED sfq: Error: Specified qdisc kind is unknown.\n'
                 'FAILED u32 police: Error: Failed to load TC action module.\n')
    assert shaping.probe(run) == shaping.Shaping(
        False, 'sfq: Error: Specified qdisc kind is unknown.; '
               'u32 police: Error: Failed to load TC action module.')


@pytest.mark.parametrize('run, reason', [
    (runner(returncode=1, stderr='unshare: unshare failed: Operation not permitted'),
     'the tc probe could not run: unshare: unshare failed: Operation not permitted'),
    (runner(raises=FileNotFoundError('unshare')), 'the tc probe could not run: unshare'),
])
def test_a_probe_that_cannot_run_means_not_able(run, reason):
    assert shaping.probe(run) == shaping.Shaping(False, reason)


class Conn:
    def __init__(self, uri):
        self.uri = uri


@pytest.mark.parametrize('uri', ['test:///default', 'qemu+ssh://other/system', 'fixture:///'])
def test_other_hosts_and_test_drivers_are_not_probed(uri):
    run = runner()
    assert not shaping.probe_for(Conn(uri), run).able and run.calls == []


def test_this_machines_qemu_is_probed_and_a_failure_logged(caplog):
    run = runner('FAILED sfq: Error: Specified qdisc kind is unknown.\n')
    assert not shaping.probe_for(Conn('qemu:///system'), run).able
    assert 'CUSTOM_KVMFLEET_VIF_BANDWIDTH' in caplog.text and 'sfq' in caplog.text
