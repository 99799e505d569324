"""``kvmfleet-manage db sync|version``: output, exit codes, and nothing changed on refusal."""

import subprocess
import sys

import pytest
import sqlalchemy as sa
from oslo_config import cfg

from scheduler.cmd import manage
from scheduler.store import schema
from tests.conftest import REPO_ROOT


def run(tmp_path, *args, connection=None, extra=''):
    config = tmp_path / 'manage.conf'
    connection = connection or f"sqlite:///{tmp_path}/kvmfleet.sqlite"
    config.write_text(f"[database]\nconnection = {connection}\n{extra}")
    return manage.main(['--config-file', str(config), *args], conf=cfg.ConfigOpts())


def test_version_of_a_missing_sqlite_file_is_empty_and_creates_nothing(tmp_path, capsys):
    assert run(tmp_path, 'db', 'version') == 0
    assert capsys.readouterr().out == 'empty\n'
    assert not (tmp_path / 'kvmfleet.sqlite').exists()


def test_sync_then_version(tmp_path, capsys):
    assert run(tmp_path, 'db', 'sync') == 0
    head = schema.head_revision()
    assert capsys.readouterr().out == f"database: empty -> revision {head}\n"
    assert run(tmp_path, 'db', 'sync') == 0
    assert capsys.readouterr().out == f"database: already at revision {head}\n"
    assert run(tmp_path, 'db', 'version') == 0
    assert capsys.readouterr().out == f"{head}\n"


def test_sync_of_a_foreign_database_fails_in_one_line_and_changes_nothing(tmp_path, capsys):
    engine = sa.create_engine(f"sqlite:///{tmp_path}/kvmfleet.sqlite")
    with engine.begin() as conn:
        conn.execute(sa.text('CREATE TABLE hosts (name TEXT)'))
    assert run(tmp_path, 'db', 'sync') == 1
    err = capsys.readouterr().err
    assert err.startswith('kvmfleet-manage: the database holds an unknown schema')
    assert err.count('\n') == 1
    assert sa.inspect(engine).get_table_names() == ['hosts']
    engine.dispose()


def test_an_unreachable_database_fails_after_the_configured_retries(tmp_path, capsys, caplog):
    assert run(tmp_path, 'db', 'version',
               connection='postgresql+psycopg2://root@127.0.0.1:1/kvmfleet',
               extra='max_retries = 3\nretry_interval = 0\n') == 1
    err = capsys.readouterr().err
    assert err.startswith('kvmfleet-manage: ') and err.count('\n') == 1
    assert 'Traceback' not in err
    retries = [r.getMessage() for r in caplog.records if 'not reachable' in r.getMessage()]
    assert [message.split(', next')[0] for message in retries] == [
        f"Database postgresql+psycopg2://root@127.0.0.1:1/kvmfleet not reachable "
        f"(attempt {attempt} of 3)" for attempt in (1, 2)]


def test_a_missing_config_file_is_a_configuration_error(tmp_path, capsys):
    assert manage.main(['--config-file', str(tmp_path / 'nope.conf'), 'db', 'sync'],
                       conf=cfg.ConfigOpts()) == 2
    assert 'nope.conf' in capsys.readouterr().err


@pytest.mark.parametrize('args', [['db'], ['db', 'drop'], ['tables']])
def test_an_unknown_command_is_a_usage_error(tmp_path, args):
    with pytest.raises(SystemExit) as caught:
        run(tmp_path, *args)
    assert caught.value.code == 2
    assert not (tmp_path / 'kvmfleet.sqlite').exists()


def test_the_module_runs_as_the_console_script_does(tmp_path):
    # kvmfleet-manage = scheduler.cmd.manage:main (setup.cfg); the module is the same code.
    config = tmp_path / 'manage.conf'
    config.write_text(f"[database]\nconnection = sqlite:///{tmp_path}/k.sqlite\n")
    result = subprocess.run([sys.executable, '-m', 'scheduler.cmd.manage', '--config-file',
                             str(config), 'db', 'sync'], capture_output=True, text=True,
                            cwd=REPO_ROOT, timeout=120)
    assert (result.returncode, result.stderr) == (0, '')
    assert result.stdout.startswith('database: empty -> revision ')
