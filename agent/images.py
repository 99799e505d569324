"""Disk images on the host: qcow2 overlays over base images, made with qemu-img.

Paths are always absolute and given by the caller (the driver keeps them under
the instance directory); nothing here decides where files go.
"""

import json
import os
import subprocess

QEMU_IMG = 'qemu-img'
QEMU_IMG_TIMEOUT_S = 60
BASE_FORMATS = ('qcow2', 'raw')


class ImageError(RuntimeError):
    """qemu-img failed or an image is unusable; the message says which file and why."""


def _run(args):
    try:
        result = subprocess.run([QEMU_IMG, *args], capture_output=True, text=True,
                                timeout=QEMU_IMG_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ImageError(f"{QEMU_IMG} {args[0]}: {exc}")
    if result.returncode != 0:
        raise ImageError(f"{QEMU_IMG} {' '.join(args)}: {result.stderr.strip()}")
    return result.stdout


def image_info(path):
    """``qemu-img info`` as a dict (format, virtual-size, backing-filename, ...)."""
    return json.loads(_run(['info', '--output=json', '-U', path]))


def create_overlay(base_path, overlay_path, base_format='qcow2'):
    """Make a qcow2 overlay at ``overlay_path`` backed by ``base_path``; refuses to overwrite."""
    if base_format not in BASE_FORMATS:
        raise ImageError(f"{base_path}: base format {base_format!r} is not one of "
                         f"{', '.join(BASE_FORMATS)}")
    if not os.path.isabs(base_path) or not os.path.isfile(base_path):
        raise ImageError(f"{base_path}: base image is not an existing absolute path")
    if os.path.exists(overlay_path):
        raise ImageError(f"{overlay_path}: already exists")
    _run(['create', '-q', '-f', 'qcow2', '-F', base_format, '-b', base_path, overlay_path])
    os.chmod(overlay_path, 0o644)
    return overlay_path
