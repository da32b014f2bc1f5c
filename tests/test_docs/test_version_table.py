"""The version table of README.md and docs/get_started.md agrees with what
mmsolo declares (setup.cfg, requirements/mminstall.txt, the import check of
mmsolo/__init__.py) and with what tools/setup_env.sh installs."""

import configparser
import re

import pytest
from doc_text import read, repo_path

import mmsolo
from mmsolo.version import __version__

PAGES = ['README.md', 'docs/get_started.md']
PACKAGES = ('mmcv', 'mmengine', 'mmdet')


def version_table(page: str) -> dict:
    """{'header': [...], 'allowed': [...], 'tested': [...]} of the table
    whose first cell is 'mmsolo <version>'."""
    rows = [
        [cell.strip() for cell in line.strip().strip('|').split('|')]
        for line in read(page).splitlines()
        if line.startswith('| ')
    ]
    for i, row in enumerate(rows):
        if row[0].startswith('mmsolo '):
            table = dict(header=row)
            for other in rows[i + 1 : i + 4]:
                for kind in ('allowed', 'tested'):
                    if other[0].startswith(kind):
                        table[kind] = other
            return table
    raise AssertionError(f'{page} has no version table')


def cell(table: dict, kind: str, column: str) -> str:
    return table[kind][table['header'].index(column)]


def mminstall_ranges() -> dict:
    ranges = {}
    for line in read('requirements/mminstall.txt').splitlines():
        match = re.match(r'(\w+)>=([\w.]+),<([\w.]+)$', line.strip())
        if match:
            ranges[match.group(1)] = (match.group(2), match.group(3))
    return ranges


def setup_env_pins() -> dict:
    script = read('tools/setup_env.sh')
    return dict(re.findall(r'"(torch|mmcv|mmengine|mmdet)==([\w.]+)"', script))


@pytest.mark.parametrize('page', PAGES)
def test_table_names_this_version(page):
    assert version_table(page)['header'][0] == f'mmsolo {__version__}'


@pytest.mark.parametrize('page', PAGES)
def test_allowed_ranges_are_the_declared_ones(page):
    table = version_table(page)
    declared = mminstall_ranges()
    guard = {dist: (low, high) for dist, low, high in mmsolo.REQUIRED_VERSIONS}
    assert declared == guard  # requirements/ and the import check agree
    for dist in PACKAGES:
        low, high = declared[dist]
        assert cell(table, 'allowed', dist) == f'>={low}, <{high}', dist
    setup_cfg = configparser.ConfigParser()
    setup_cfg.read(repo_path('setup.cfg'))
    python_requires = setup_cfg['options']['python_requires']
    assert cell(table, 'allowed', 'Python') == python_requires
    runtime = read('requirements/runtime.txt')
    if not re.search(r'^torch\b', runtime, re.M):
        assert cell(table, 'allowed', 'PyTorch') == 'not pinned'


@pytest.mark.parametrize('page', PAGES)
def test_tested_versions_are_what_setup_env_installs(page):
    from packaging.version import Version

    table = version_table(page)
    pins = setup_env_pins()
    assert cell(table, 'tested', 'PyTorch') == pins['torch']
    for dist in PACKAGES:
        assert cell(table, 'tested', dist) == pins[dist], dist
        low, high = mminstall_ranges()[dist]
        assert Version(low) <= Version(pins[dist]) < Version(high)
    assert f'(Python {cell(table, "tested", "Python")})' in read(
        'tools/setup_env.sh'
    )
