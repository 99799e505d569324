"""qcow2 overlays made with the real qemu-img."""

import pytest

from agent import images


@pytest.fixture
def base(tmp_path):
    path = tmp_path / 'base.raw'
    path.write_bytes(b'\0' * 1024 * 1024)
    return path


def test_overlay_is_backed_by_the_base(base, tmp_path):
    overlay = tmp_path / 'disk.qcow2'
    images.create_overlay(str(base), str(overlay), 'raw')
    info = images.image_info(str(overlay))
    assert info['format'] == 'qcow2'
    assert info['backing-filename'] == str(base)
    assert info['backing-filename-format'] == 'raw'
    assert info['virtual-size'] == 1024 * 1024


@pytest.mark.parametrize('case, base_path, fmt, match', [
    ('unknown format', None, 'vmdk', 'base format'),
    ('relative base', 'base.raw', 'raw', 'absolute'),
    ('missing base', '/nonexistent/base.qcow2', 'qcow2', 'absolute'),
])
def test_bad_base_is_refused_before_qemu_img_runs(base, tmp_path, case, base_path, fmt, match):
    overlay = tmp_path / 'disk.qcow2'
    with pytest.raises(images.ImageError, match=match):
        images.create_overlay(base_path or str(base), str(overlay), fmt)
    assert not overlay.exists()


def test_an_existing_overlay_is_never_overwritten(base, tmp_path):
    overlay = tmp_path / 'disk.qcow2'
    overlay.write_text('guest data')
    with pytest.raises(images.ImageError, match='already exists'):
        images.create_overlay(str(base), str(overlay), 'raw')
    assert overlay.read_text() == 'guest data'


def test_qemu_img_failure_carries_its_message(tmp_path):
    base = tmp_path / 'not-qcow2'
    base.write_text('plain text')
    with pytest.raises(images.ImageError, match='qemu-img'):
        images.create_overlay(str(base), str(tmp_path / 'disk.qcow2'), 'qcow2')
