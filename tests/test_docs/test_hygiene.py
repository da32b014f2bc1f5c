"""README.md and docs/ stay true after the next commit: no commit hashes,
no counts of tests, no relative dates."""

import re

import pytest
from doc_text import URL, docs_pages, read

PAGES = docs_pages() + ['CHANGELOG.md']
# 7 to 40 hexadecimal characters standing alone, with a digit and a letter
# (a commit or other hash; numbers and words are not).
HASH = re.compile(
    r'(?<![\w/.-])(?=[0-9a-f]*[0-9])(?=[0-9a-f]*[a-f])'
    r'[0-9a-f]{7,40}(?![\w-])'
)
TEST_COUNT = re.compile(
    r'(?<![\d.])\d[\d,]*\s+(?:[A-Za-z-]+\s+)?'
    r'(?:tests?|passed|failed|skipped|xfailed|deselected)(?![\w-])',
    re.I,
)
RELATIVE_DATE = re.compile(
    r'\b(?:today|yesterday|tomorrow|tonight|(?:this|last|next)\s+'
    r'(?:round|morning|afternoon|evening|night|week|month))\b',
    re.I,
)


def findings(pattern: re.Pattern, page: str) -> list:
    found = []
    for number, line in enumerate(read(page).splitlines(), 1):
        for match in pattern.finditer(URL.sub('', line)):
            found.append(f'{page}:{number}: {match.group(0)!r}')
    return found


@pytest.mark.parametrize('page', PAGES)
def test_no_commit_hashes(page):
    assert not findings(HASH, page)


@pytest.mark.parametrize('page', PAGES)
def test_no_test_counts(page):
    assert not findings(TEST_COUNT, page)


@pytest.mark.parametrize('page', PAGES)
def test_no_relative_dates(page):
    assert not findings(RELATIVE_DATE, page)


def test_the_patterns_catch_what_they_are_for():
    assert HASH.search('fresh clone at `8bf925a`')
    assert HASH.search('at 42dc8d9 the suite')
    assert not HASH.search('1332 GFLOP/s, 20220512 and deadbeef')
    assert not HASH.search(URL.sub('', 'https://x.org/a_125858-a357fa23.pth'))
    assert TEST_COUNT.search('runs 736 tests (722 pass)')
    assert TEST_COUNT.search('708 passed, 14 skipped')
    assert TEST_COUNT.search('the 13 serial tests')
    assert not TEST_COUNT.search('3 classes, 256x256 images')
    assert not TEST_COUNT.search('paper 41.7 test-dev')
    assert RELATIVE_DATE.search("Today's fresh-clone run")
    assert RELATIVE_DATE.search('what this round added')
    assert not RELATIVE_DATE.search('2026-12-03 runs')
