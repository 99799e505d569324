"""Page size values and Nova's image rule for hw_mem_page_size."""

import pytest

from tests.unit.scheduler.specs.helpers import assert_error, parse, request


@pytest.mark.parametrize('value,expected', [
    ('small', 'small'), ('large', 'large'), ('any', 'any'), ('LARGE', 'large'),
    ('2048', 2048), ('1048576', 1048576), ('4', 'small'),
    ('2MB', 2048), ('2M', 2048), ('2MiB', 2048), ('2mb', 2048),
    ('1GB', 1048576), ('1G', 1048576), ('1GiB', 1048576),
    ('2048KB', 2048), ('2048K', 2048), ('4KB', 'small'), ('64KiB', 64),
    (2048, 2048),
])
def test_page_size_values(value, expected):
    spec = parse({'hw:mem_page_size': value})
    assert spec.page_size == expected
    assert len(spec.numa_cells) == 1


@pytest.mark.parametrize('value,words', [
    ('huge', ("'huge'", 'not a page size')),
    ('2TBx', ("'2TBx'",)),
    ('3MB', ('3072 KiB', 'power of two')),
    ('2', ('2 KiB', 'power of two')),
    ('0', ('0 KiB',)),
    ('2048B', ('bytes',)),
    ('', ("''",)),
])
def test_bad_page_sizes(value, words):
    assert_error(request({'hw:mem_page_size': value}), 'extra_specs.hw:mem_page_size', *words)


@pytest.mark.parametrize('flavor,image,expected', [
    ('large', '1GB', 1048576),
    ('large', '2048', 2048),
    ('any', 'small', 'small'),
    ('any', 'large', 'large'),
    ('large', None, 'large'),
    (None, None, None),
])
def test_image_may_choose_when_the_flavor_says_large_or_any(flavor, image, expected):
    extra = {'hw:mem_page_size': flavor} if flavor else {}
    props = {'hw_mem_page_size': image} if image else None
    assert parse(extra, props).page_size == expected


@pytest.mark.parametrize('flavor,image,words', [
    (None, '2MB', ('large or any',)),
    ('small', '2MB', ('hw:mem_page_size=small',)),
    ('2MB', '1GB', ('hw:mem_page_size=2MB',)),
    ('1GB', '1GB', ('hw:mem_page_size=1GB',)),
    ('large', 'tiny', ("'tiny'",)),
])
def test_image_page_size_refused(flavor, image, words):
    extra = {'hw:mem_page_size': flavor} if flavor else {}
    assert_error(request(extra, {'hw_mem_page_size': image}),
                 'image_properties.hw_mem_page_size', *words)
