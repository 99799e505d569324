"""Release notes (reno): every note passes ``reno lint`` and none is a template left as is."""

import pathlib
import subprocess
import sys

import yaml

TOP = pathlib.Path(__file__).resolve().parents[2]
NOTES = TOP / 'releasenotes' / 'notes'
SECTIONS = {'prelude', 'features', 'issues', 'upgrade', 'deprecations', 'critical',
            'security', 'fixes', 'other'}
LINT = 'import sys; from reno.main import main; sys.exit(main(sys.argv[1:]))'


def test_reno_lint_accepts_every_note():
    result = subprocess.run([sys.executable, '-c', LINT, 'lint'], cwd=TOP,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_each_note_says_something_in_known_sections():
    notes = sorted(NOTES.glob('*.yaml'))
    assert notes
    for note in notes:
        content = yaml.safe_load(note.read_text())
        assert content and set(content) <= SECTIONS, note.name
        text = yaml.safe_dump(content)
        assert 'or remove this section' not in text and 'Replace this text' not in text, \
            f"{note.name}: reno's template text left in"
