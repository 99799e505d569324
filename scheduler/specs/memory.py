"""Guest memory page size: ``hw:mem_page_size`` and the image's ``hw_mem_page_size``.

Values: ``small``, ``large``, ``any``, a number of KiB (``2048``) or a size
with a unit (``2MB``, ``1GB``, ``2048KB``; ``KiB``/``MiB``/``GiB`` and the bare
``K``/``M``/``G`` are accepted too).  Nova's image rule: the image may name
a page size only when the flavor says ``large`` or ``any``, and then the
image's value is used; an image value against any other flavor value, or
against no flavor value, is an error.
"""

import re

from scheduler.specs import sources as src
from wire import request_spec as rs

SMALL_PAGE_KB = 4
_KEYWORDS = (rs.PAGE_SMALL, rs.PAGE_LARGE, rs.PAGE_ANY)
_SIZE = re.compile(r'^([0-9]{1,12})\s*(k|m|g)?(i?b)?$', re.IGNORECASE | re.ASCII)
_UNIT_KB = {None: 1, 'k': 1, 'm': 1024, 'g': 1024 * 1024}


def parse_page_size(sources, errors):
    """None (not requested), 'small', 'large', 'any' or a hugepage size in KiB."""
    flavor_text, image_text = sources.pair('mem_page_size')
    flavor_field = src.flavor_field('hw:mem_page_size')
    image_field = src.image_field('hw_mem_page_size')
    if flavor_text is None:
        if image_text is not None:
            errors.add(image_field, f'{image_text!r} is not allowed: the flavor must set '
                                    'hw:mem_page_size=large or any for the image to choose')
        return None
    flavor_size = page_size_value(flavor_text, flavor_field, errors)
    if image_text is None:
        return flavor_size
    if flavor_size in (rs.PAGE_LARGE, rs.PAGE_ANY):
        return page_size_value(image_text, image_field, errors)
    if flavor_size is not None:
        errors.add(image_field, f'{image_text!r} is not allowed: the flavor sets '
                                f'hw:mem_page_size={flavor_text} (only large or any lets '
                                'the image choose)')
    return None


def page_size_value(text, field, errors):
    """Parse one page-size value; an explicit 4 KiB is the same as 'small'."""
    word = text.lower()
    if word in _KEYWORDS:
        return word
    match = _SIZE.match(text)
    if match is None:
        errors.add(field, f'{text!r} is not a page size (small, large, any, a size in KiB '
                          'such as 2048, or 2MB / 1GB)')
        return None
    if match.group(3) and match.group(2) is None:
        errors.add(field, f'{text!r}: a size in bytes is not a page size; use KiB, MB or GB')
        return None
    size_kb = int(match.group(1)) * _UNIT_KB[(match.group(2) or '').lower() or None]
    if size_kb < SMALL_PAGE_KB or size_kb & (size_kb - 1):
        errors.add(field, f'{text!r} is {size_kb} KiB: a page size is a power of two '
                          f'of at least {SMALL_PAGE_KB} KiB')
        return None
    return rs.PAGE_SMALL if size_kb == SMALL_PAGE_KB else size_kb
