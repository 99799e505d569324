"""Server groups from the kvmfleet CLI, through the scheduler process, to simulated agents
on the real RabbitMQ: create, boot members with --server-group and --min-count, show,
delete.  Three hosts; an anti-affinity group allowing two members per host.
"""

import collections
import json
import subprocess

import pytest

from tests import busfleet
from tests.functional.bus_stack import BIN, environment_with_venv, running_stack

pytestmark = pytest.mark.rabbit
SHARED = ('--vcpus', '1', '--memory', '512')


@pytest.fixture(scope='module')
def stack(rabbit_url, tmp_path_factory):
    with running_stack(tmp_path_factory.mktemp('groups'), busfleet.fleet(3, prefix='sg')) as s:
        yield s


def kvmfleet(stack, *args):
    result = subprocess.run([str(BIN / 'kvmfleet'), '--config-file', str(stack.config), *args],
                            capture_output=True, text=True, timeout=120,
                            env=environment_with_venv())
    return result.returncode, result.stdout, result.stderr


def json_of(stack, *args):
    code, out, err = kvmfleet(stack, *args, '-f', 'json')
    assert code == 0, err
    return json.loads(out)


def test_anti_affinity_members_per_host_from_the_cli(stack):
    group = json_of(stack, 'server-group', 'create', 'web', '--policy', 'anti-affinity',
                    '--rule', 'max_server_per_host=2')
    assert (group['policy'], group['rules'], group['members']) == \
        ('anti-affinity', {'max_server_per_host': 2}, [])
    booted = json_of(stack, 'boot', 'web-vm', *SHARED, '--count', '6', '--server-group', 'web',
                     '--wait')
    assert [i['state'] for i in booted] == ['ACTIVE'] * 6
    assert sorted(collections.Counter(i['host'] for i in booted).values()) == [2, 2, 2]

    code, _, err = kvmfleet(stack, 'boot', 'one-more', *SHARED, '--server-group', 'web')
    assert code == 1 and 'NoValidHost' in err and 'SERVER_GROUP_ANTI_AFFINITY' in err

    shown = json_of(stack, 'server-group', 'show', 'web')
    states = collections.Counter(m['state'] for m in shown['members'])
    assert states == {'ACTIVE': 6, 'ERROR': 1}
    [listed] = [g for g in json_of(stack, 'server-group', 'list') if g['name'] == 'web']
    assert listed['members'] == 7

    code, _, err = kvmfleet(stack, 'server-group', 'delete', 'web')
    assert code == 1 and 'Conflict' in err and 'delete them first' in err


def test_min_count_boots_what_fits_or_nothing(stack):
    json_of(stack, 'server-group', 'create', 'solo', '--policy', 'anti-affinity')
    code, _, err = kvmfleet(stack, 'boot', 'all-or-none', *SHARED, '--count', '4',
                            '--min-count', '4', '--server-group', 'solo')
    assert code == 1 and 'NoValidHost' in err
    refused = json_of(stack, 'server-group', 'show', 'solo')['members']
    assert [(m['state'], m['host']) for m in refused] == [('ERROR', None)] * 4
    # --wait exits 1 when not every instance is ACTIVE; the answer lists all four.
    code, out, err = kvmfleet(stack, 'boot', 'some', *SHARED, '--count', '4', '--min-count', '2',
                              '--server-group', 'solo', '--wait', '-f', 'json')
    assert code == 1, err
    some = json.loads(out)
    assert collections.Counter(i['state'] for i in some) == {'ACTIVE': 3, 'ERROR': 1}
    assert len({i['host'] for i in some if i['state'] == 'ACTIVE'}) == 3


def test_bad_groups_are_refused_with_the_field_and_change_nothing(stack):
    before = json_of(stack, 'server-group', 'list')
    code, _, err = kvmfleet(stack, 'server-group', 'create', 'x', '--policy', 'affinity',
                            '--rule', 'max_server_per_host=2')
    assert code == 2 and 'server_group.rules.max_server_per_host' in err
    code, _, err = kvmfleet(stack, 'boot', 'lost', *SHARED, '--server-group', 'nobody')
    assert code == 2 and "no server group named 'nobody'" in err
    assert json_of(stack, 'server-group', 'list') == before
