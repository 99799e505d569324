"""Key files, enrolment and the key directory."""

import os

import pytest

from wire import key_commands, keys


def test_key_pair_files_and_modes(tmp_path):
    public = keys.write_key_pair(str(tmp_path / 'k' / 'agent.key'))
    assert public == str(tmp_path / 'k' / 'agent.pub')
    assert os.stat(tmp_path / 'k' / 'agent.key').st_mode & 0o777 == 0o600
    private_key = keys.load_private_key(str(tmp_path / 'k' / 'agent.key'))
    assert keys.raw_public(keys.load_public_key(public)) == \
        keys.raw_public(private_key.public_key())


def test_an_existing_key_is_not_replaced_without_force(tmp_path):
    path = str(tmp_path / 'agent.key')
    keys.write_key_pair(path)
    before = open(path, 'rb').read()
    with pytest.raises(keys.KeyFileError, match='a key already exists'):
        keys.write_key_pair(path)
    assert open(path, 'rb').read() == before
    keys.write_key_pair(path, force=True)
    assert open(path, 'rb').read() != before


@pytest.mark.parametrize('content,words', [
    (b'', 'not an unencrypted PEM private key'),
    (b'x' * 5000, 'larger than 4096 bytes'),
])
def test_unusable_private_keys_name_the_file(tmp_path, content, words):
    path = tmp_path / 'bad.key'
    path.write_bytes(content)
    os.chmod(path, 0o600)
    with pytest.raises(keys.KeyFileError, match=words) as excinfo:
        keys.load_private_key(str(path))
    assert str(path) in str(excinfo.value)


def test_a_private_key_others_may_read_is_refused(tmp_path):
    path = tmp_path / 'agent.key'
    keys.write_key_pair(str(path))
    os.chmod(path, 0o640)
    with pytest.raises(keys.KeyFileError, match='mode 640: readable by others'):
        keys.load_private_key(str(path))


def test_a_missing_key_names_the_file(tmp_path):
    with pytest.raises(keys.KeyFileError, match='cannot read'):
        keys.load_private_key(str(tmp_path / 'absent.key'))


@pytest.mark.parametrize('name', ['../etc/passwd', '.hidden', '', 'a/b', 'Ⅻ', 'h\u202e1',
                                  'h\x00', 'x' * 254, '-h'])
def test_enrolment_refuses_names_that_are_not_file_names(tmp_path, name):
    public = keys.write_key_pair(str(tmp_path / 'agent.key'))
    with pytest.raises(keys.KeyFileError, match='must be 1-253 ASCII letters'):
        keys.enrol(str(tmp_path / 'hosts'), name, public)
    assert not (tmp_path / 'hosts').exists()


def test_enrolment_is_once_per_host(tmp_path):
    first = keys.write_key_pair(str(tmp_path / 'a.key'))
    second = keys.write_key_pair(str(tmp_path / 'b.key'))
    hosts = str(tmp_path / 'hosts')
    assert keys.enrol(hosts, 'h1', first) == 'enrolled'
    assert keys.enrol(hosts, 'h1', first) == 'unchanged'
    with pytest.raises(keys.KeyFileError, match='h1 already has a different key'):
        keys.enrol(hosts, 'h1', second)
    assert keys.enrol(hosts, 'h1', second, replace=True) == 'replaced'


def test_enrolment_refuses_a_private_key_or_garbage(tmp_path):
    keys.write_key_pair(str(tmp_path / 'a.key'))
    with pytest.raises(keys.KeyFileError, match='not a PEM public key'):
        keys.enrol(str(tmp_path / 'hosts'), 'h1', str(tmp_path / 'a.key'))


def test_the_directory_sees_a_host_enrolled_while_running(tmp_path):
    hosts = tmp_path / 'hosts'
    directory = keys.KeyDirectory(str(hosts))
    assert directory.get('h1') is None and directory.names() == []
    public = keys.write_key_pair(str(tmp_path / 'a.key'))
    keys.enrol(str(hosts), 'h1', public)
    assert directory.get('h1') is not None
    (hosts / 'h2.pub').write_text('garbage')
    os.utime(hosts, ns=(1, 1))   # the stamp changes whatever the clock's granularity
    assert directory.get('h2') is None
    assert 'not a PEM public key' in directory.problems['h2']
    assert directory.names() == ['h1']


def test_commands_print_one_line_errors_and_exit_1(tmp_path, capsys):
    assert key_commands.keygen('prog', str(tmp_path / 'a.key')) == 0
    assert key_commands.keygen('prog', str(tmp_path / 'a.key')) == 1
    assert key_commands.enrol('prog', str(tmp_path / 'h'), '../x', str(tmp_path / 'a.pub')) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith('prog: ') for line in err)
