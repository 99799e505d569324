"""A database made by the schema before migrations (commit d997de1), with data in it,
is migrated by ``kvmfleet-manage db sync`` and then served by a scheduler: nothing lost."""

import json
import pathlib
import time

import pytest
import sqlalchemy as sa
from oslo_config import cfg

from scheduler.cmd import manage
from scheduler.engine import build_engine
from scheduler.engine.opts import EngineSettings
from scheduler.manager import SchedulerManager
from scheduler.store import ClaimConflict, Store, schema
from tests.unit.scheduler.store.test_store import pinned, topology

DATA = pathlib.Path(__file__).with_name('data')
HELD, FREED = '11111111-1111-4111-8111-111111111111', '22222222-2222-4222-8222-222222222222'


class NoAgents:
    def build_instance(self, *args, **kwargs):
        pass

    def delete_instance(self, *args, **kwargs):
        pass


def make_legacy_database(url):
    """The d997de1 DDL as its create_all() ran it, and rows as that release wrote them."""
    engine = sa.create_engine(url)
    ddl = (DATA / f"schema_d997de1_{engine.dialect.name}.sql").read_text()
    now = time.time()
    with engine.begin() as conn:
        for statement in _statements(ddl):
            conn.execute(sa.text(statement))
        conn.execute(sa.text('INSERT INTO schema_version VALUES (1, 50.0)'))
        conn.execute(sa.text('INSERT INTO hosts VALUES (:n, :t, 3, :e, NULL, :now)'),
                     {'n': 'compute-1', 't': json.dumps(topology()), 'e': True, 'now': now})
        for uuid, state in ((HELD, 'ACTIVE'), (FREED, 'DELETED')):
            conn.execute(sa.text(
                "INSERT INTO instances VALUES (:u, :name, :r, NULL, :s, NULL, 'compute-1', "
                "NULL, '[]', '[]', 60.0, 70.0)"),
                {'u': uuid, 'name': f"vm-{state.lower()}", 'r': json.dumps({'name': 'vm'}),
                 's': state})
        conn.execute(sa.text("INSERT INTO allocations VALUES (:u, 'compute-1', :a, 65.0)"),
                     {'u': HELD, 'a': json.dumps(pinned(HELD, [2, 3]).to_dict())})
        for pcpu in ('2', '3'):
            conn.execute(sa.text("INSERT INTO allocated_resources (host, kind, key, "
                                 "instance_uuid) VALUES ('compute-1', 'pcpu', :k, :u)"),
                         {'k': pcpu, 'u': HELD})
    engine.dispose()


def _statements(ddl):
    text = '\n'.join(line for line in ddl.splitlines() if not line.startswith('--'))
    return [statement.strip() for statement in text.split(';') if statement.strip()]


def db_sync(tmp_path, url):
    config = tmp_path / 'upgrade.conf'
    config.write_text(f"[database]\nconnection = {url}\nmax_retries = 1\n")
    return manage.main(['--config-file', str(config), 'db', 'sync'], conf=cfg.ConfigOpts())


def test_db_sync_migrates_a_pre_migration_database_and_keeps_its_data(database_url, tmp_path,
                                                                        capsys):
    make_legacy_database(database_url)
    store = Store(database_url)
    before = (store.list_hosts(), store.list_instances(include_deleted=True),
              store.all_allocations(), sorted(store.held_resources()))
    assert schema.current_state(store.engine).legacy_version == 1
    assert db_sync(tmp_path, database_url) == 0
    assert capsys.readouterr().out.strip() == (
        f"database: schema_version 1 (before migrations) -> revision {schema.head_revision()}")
    after = (store.list_hosts(), store.list_instances(include_deleted=True),
             store.all_allocations(), sorted(store.held_resources()))
    assert after == before
    assert store.check_schema() is store
    assert store.get_instance(HELD).assignment == pinned(HELD, [2, 3]).to_dict()
    store.dispose()


def test_a_scheduler_serves_the_migrated_database(database_url, tmp_path):
    make_legacy_database(database_url)
    assert db_sync(tmp_path, database_url) == 0
    store = Store(database_url).check_schema()
    manager = SchedulerManager(store, build_engine(EngineSettings(seed=1)), NoAgents())
    assert manager.show({}, instance=HELD)['state'] == 'ACTIVE'
    # The claim made before the upgrade still holds its pCPUs: the database refuses them...
    with pytest.raises(ClaimConflict):
        store.claim(pinned('33333333-3333-4333-8333-333333333333', [3]), 3)
    # ...and a boot lands beside it, on the six pCPUs left, at the next generation.
    answer = manager.boot({}, request={'name': 'after-upgrade', 'vcpus': 6, 'memory_mb': 512,
                                       'extra_specs': {'hw:cpu_policy': 'dedicated'}})
    [instance] = answer['instances']
    assert instance['state'] == 'BUILDING', instance
    pcpus = set(store.get_instance(instance['uuid']).assignment['cells'][0]['pinning'].values())
    assert pcpus == {0, 1, 4, 5, 6, 7}
    assert store.get_host('compute-1').generation == 4
    store.dispose()
