"""The dashboard in a real browser: Debian's chromium, headless, driven by selenium.

The real scheduler process on the real RabbitMQ with a simulated fleet, one pinned
guest (isolate siblings, isolated emulator threads) booted under a hostile name, the
real ``kvmfleet-dashboard`` process; each page is opened and checked for what a person
sees, and a screenshot of each is saved under the test's tmp_path.
"""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from dashboard.html import free_colour, free_fraction
from tests import busfleet
from tests.conftest import missing_service
from tests.functional.bus_stack import REPO, running_stack

pytestmark = pytest.mark.rabbit

CHROMIUM, CHROMEDRIVER = '/usr/bin/chromium', '/usr/bin/chromedriver'
HOSTILE = '<script>alert("pwned")</script> & <b>bold</b>'
HOSTILE_AGGREGATE = '<img src=x onerror=alert(1)>'
PINNED = {'vcpus': 2, 'memory_mb': 512,
          'extra_specs': {'hw:cpu_policy': 'dedicated', 'hw:cpu_thread_policy': 'isolate',
                          'hw:emulator_threads_policy': 'isolate'}}


def fleet():
    """Three hosts of two cells, each core two sibling threads; one in a hostile aggregate."""
    hosts = busfleet.fleet(3, prefix='dash', pcpus_per_cell=8, shared_per_cell=2)
    for host in hosts:
        for cell in host['cells']:
            cpus = cell['cpus'] + cell['shared_cpus']
            cell['siblings'] = [cpus[i:i + 2] for i in range(0, len(cpus), 2)]
    hosts[2]['aggregates'] = {HOSTILE_AGGREGATE: {}}
    return hosts


def free_port():
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        return probe.getsockname()[1]


def fetch(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, dict(answer.headers), answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode()


@pytest.fixture(scope='module')
def world(rabbit_url, tmp_path_factory):
    if not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)):
        missing_service('chromium and chromium-driver (tools/setup-host.sh installs them)')
    workdir = tmp_path_factory.mktemp('dashboard')
    with running_stack(workdir, fleet()) as stack:
        api = stack.api()
        [booted] = api.boot(dict(PINNED, name=HOSTILE))['instances']
        record = stack.wait_settled([booted['uuid']])[booted['uuid']]
        assert record['state'] == 'ACTIVE', record
        disabled = next(n for n in stack.host_names if n != record['host'])
        api.host_set_enabled(disabled, False, reason='maintenance')
        port = free_port()
        config = workdir / 'dashboard.conf'
        config.write_text(stack.config.read_text().replace(
            str(workdir / 'scheduler.log'), str(workdir / 'dashboard.log'))
            + f"[dashboard]\nport = {port}\nrefresh_seconds = 0\n")
        process = subprocess.Popen([sys.executable, '-m', 'dashboard.service',
                                    '--config-file', str(config)], cwd=REPO,
                                   stdout=subprocess.DEVNULL,
                                   stderr=open(workdir / 'dashboard.err', 'a'))
        base = f"http://127.0.0.1:{port}"
        try:
            wait_serving(base, process, workdir)
            yield {'stack': stack, 'api': api, 'record': api.show(booted['uuid']),
                   'disabled': disabled, 'base': base}
        finally:
            process.terminate()
            process.wait(30)


def wait_serving(base, process, workdir, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, (workdir / 'dashboard.err').read_text()
        try:
            if fetch(base + '/')[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"the dashboard did not serve within {timeout}s")


@pytest.fixture(scope='module')
def browser(world):
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ('--headless=new', '--no-sandbox', '--disable-gpu',
                     '--disable-dev-shm-usage', '--window-size=1400,1000'):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def open_page(browser, world, path, shots, name):
    browser.get(world['base'] + path)
    assert browser.find_elements(By.TAG_NAME, 'script') == []    # nothing hostile ran in
    shots.mkdir(exist_ok=True)
    browser.save_screenshot(str(shots / f"{name}.png"))
    return browser


@pytest.fixture(scope='module')
def shots(tmp_path_factory):
    directory = tmp_path_factory.mktemp('screenshots')
    yield directory
    keep = os.environ.get('KVMFLEET_SCREENSHOTS')     # e.g. CI artefacts
    if keep:
        shutil.copytree(directory, keep, dirs_exist_ok=True)


def test_the_fleet_page_shows_every_host_its_cells_coloured_by_free_pcpus(browser, world,
                                                                          shots):
    open_page(browser, world, '/', shots, 'fleet')
    rows = {row.get_attribute('data-host'): row
            for row in browser.find_elements(By.CSS_SELECTOR, 'tr.host')}
    assert sorted(rows) == sorted(world['stack'].host_names)
    for host in world['api'].hosts()['hosts']:
        blocks = rows[host['name']].find_elements(By.CSS_SELECTOR, 'g.cell')
        assert len(blocks) == len(host['cells'])
        for block, cell in zip(blocks, host['cells']):
            fraction = free_fraction(cell['pcpus']['free'], cell['pcpus']['total'])
            fill = block.find_element(By.CSS_SELECTOR, 'rect').get_attribute('fill')
            assert fill == free_colour(fraction), (host['name'], cell)
    used_host = world['record']['host']
    used_cell = world['record']['assignment']['cells'][0]['host_cell']
    used = rows[used_host].find_elements(By.CSS_SELECTOR, 'g.cell')[used_cell]
    assert float(used.get_attribute('data-free')) < 1.0
    assert 'free' in used.text and 'cell' in used.text
    disabled = rows[world['disabled']]
    assert 'disabled' in disabled.get_attribute('class')
    assert disabled.find_element(By.CSS_SELECTOR, 'td.status').text == 'disabled'
    # the hostile aggregate is shown as text, never as markup
    assert HOSTILE_AGGREGATE in browser.find_element(By.CSS_SELECTOR, 'table.aggregates').text
    assert browser.find_elements(By.CSS_SELECTOR, 'main img') == []


def test_the_host_page_marks_each_pinned_isolated_and_emulator_thread(browser, world, shots):
    record = world['record']
    open_page(browser, world, f"/host/{record['host']}", shots, 'host')
    threads = {int(t.get_attribute('data-pcpu')): t
               for t in browser.find_elements(By.CSS_SELECTOR, 'g.thread')}
    assignment = record['assignment']
    pinned = {p for cell in assignment['cells'] for p in cell['pinning'].values()}
    reserved = {p for cell in assignment['cells'] for p in cell['reserved_pcpus']}
    assert pinned and reserved and assignment['emulator_pcpus']
    for pcpu in pinned:
        assert threads[pcpu].get_attribute('data-state') == 'pinned'
        assert threads[pcpu].get_attribute('data-instance') == record['uuid']
    assert {threads[p].get_attribute('data-state') for p in reserved} == {'isolate'}
    assert {threads[p].get_attribute('data-state')
            for p in assignment['emulator_pcpus']} == {'emulator'}
    held = pinned | reserved | set(assignment['emulator_pcpus'])
    assert {t.get_attribute('data-state') for p, t in threads.items() if p not in held} <= \
        {'free', 'shared'}
    # each core frame holds its two sibling threads
    cores = browser.find_elements(By.CSS_SELECTOR, 'g.core')
    assert cores and all(len(c.find_elements(By.CSS_SELECTOR, 'g.thread')) == 2 for c in cores)
    assert HOSTILE in browser.find_element(By.CSS_SELECTOR, 'table.instances').text
    assert browser.find_elements(By.CSS_SELECTOR, 'table.vfs')


def test_the_instance_page_draws_its_assignment_under_its_hostile_name(browser, world, shots):
    record = world['record']
    open_page(browser, world, f"/instance/{record['uuid']}", shots, 'instance')
    assert browser.find_element(By.TAG_NAME, 'h1').text == f"Instance {HOSTILE}"
    assert browser.find_elements(By.CSS_SELECTOR, 'main b') == []
    marked = {int(t.get_attribute('data-pcpu')) for t in browser.find_elements(
        By.CSS_SELECTOR, f'g.thread[data-instance="{record["uuid"]}"]')}
    held = {p for cell in record['assignment']['cells']
            for p in (*cell['pinning'].values(), *cell['reserved_pcpus'])}
    assert marked == held | set(record['assignment']['emulator_pcpus'])
    status, headers, body = fetch(f"{world['base']}/instance/{record['uuid']}")
    assert status == 200 and '<script>' not in body and '&lt;script&gt;' in body
    assert "script-src" not in headers['Content-Security-Policy']    # default-src 'none'
    assert "default-src 'none'" in headers['Content-Security-Policy']


def test_the_instance_list_filters_by_name_host_and_state(browser, world, shots):
    record = world['record']
    open_page(browser, world, f"/instances?name=script&host={record['host']}", shots,
              'instances')
    rows = browser.find_elements(By.CSS_SELECTOR, 'table.instance-list tbody tr')
    assert [r.find_element(By.TAG_NAME, 'td').text for r in rows] == [HOSTILE]
    open_page(browser, world, '/instances?state=ERROR', shots, 'instances-error')
    assert browser.find_elements(By.CSS_SELECTOR, 'table.instance-list tbody tr') == []


def submit_explain(browser, text):
    """Type ``text`` into the explain form, send it, and wait for the answer page."""
    area = browser.find_element(By.NAME, 'request')
    area.clear()
    area.send_keys(text)
    form = browser.find_element(By.CSS_SELECTOR, 'form.explain')
    form.find_element(By.TAG_NAME, 'button').click()
    WebDriverWait(browser, 20).until(expected_conditions.staleness_of(form))
    return WebDriverWait(browser, 20).until(
        expected_conditions.presence_of_element_located((By.CSS_SELECTOR, '.verdict')))


def test_the_explain_form_answers_where_a_request_goes_or_why_not(browser, world, shots):
    open_page(browser, world, '/explain', shots, 'explain-form')
    verdict = submit_explain(browser, '{"hw:cpu_policy": "dedicated", '
                                      '"hw:mem_page_size": "2MB"}')
    assert verdict.text.startswith('Would go to dash-')
    browser.save_screenshot(str(shots / 'explain-fits.png'))
    verdict = submit_explain(browser, '{"vcpus": 12, "memory_mb": 1024, '
                                      '"extra_specs": {"hw:cpu_policy": "dedicated"}}')
    assert verdict.text == 'No valid host'
    reasons = browser.find_element(By.CSS_SELECTOR, 'table.reasons').text
    assert 'NUMA_CELL_NO_FREE_PCPUS' in reasons or 'HOST_DISABLED' in reasons
    assert browser.find_elements(By.CSS_SELECTOR, 'ul.nearest li')
    assert browser.find_elements(By.TAG_NAME, 'script') == []
    browser.save_screenshot(str(shots / 'explain-nowhere.png'))
