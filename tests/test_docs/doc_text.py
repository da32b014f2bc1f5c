"""Reading README.md and docs/ for the documentation tests: the pages, their
fenced blocks (with the marker comment on the line before each), inline code
spans, shell commands, and the options of mmsolo's tools.

Markers a page may put on the line before a fenced block:

* ``<!-- runnable -->``: a Python block that runs as it is
  (``test_runnable_blocks.py``);
* ``<!-- config: PATH -->``: a config file shown in full, loaded from PATH
  (``test_config_blocks.py``).
"""

import argparse
import glob
import os
import re
import runpy
import shlex
import sys
from typing import Dict, Iterator, List, NamedTuple, Optional, Set

REPO_ROOT = os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
)

RUNNABLE = re.compile(r'^<!--\s*runnable\s*-->\s*$')
CONFIG_MARK = re.compile(r'^<!--\s*config:\s*(\S+)\s*-->\s*$')
FENCE = re.compile(r'^(`{3,}|~{3,})(.*)$')
INLINE_CODE = re.compile(r'(`+)(.+?)\1')
URL = re.compile(r'(?:https?|file|ftp)://[^\s)>\]`"\']+')
# A path of a script of this repository, not inside another path
# (``$MMDET_TOOLS/train.py``, ``.mim/tools/train.py`` are mmdet's).
SCRIPT_PATH = re.compile(
    r'(?<![\w/$.-])((?:tools|benchmarks)/[\w/.-]+?\.(?:py|sh))(?![\w/])'
)
CONFIG_PATH = re.compile(r'(?<![\w/$.-])(configs/[\w/.-]+?\.py)(?![\w/])')
FLAG = re.compile(r'(?<![\w-])(--[A-Za-z][\w-]*)')
# The shell scripts pass their extra arguments to these tools.
SHELL_TOOLS = {
    'tools/dist_train.sh': 'tools/train.py',
    'tools/slurm_train.sh': 'tools/train.py',
    'tools/dist_test.sh': 'tools/test.py',
    'tools/slurm_test.sh': 'tools/test.py',
    'tools/setup_env.sh': None,
}


def repo_path(*parts: str) -> str:
    return os.path.join(REPO_ROOT, *parts)


def docs_pages() -> List[str]:
    """README.md and every Markdown page of docs/ (not the built site),
    relative to the repository root."""
    pages = ['README.md']
    for path in sorted(
        glob.glob(repo_path('docs', '**', '*.md'), recursive=True)
    ):
        rel = os.path.relpath(path, REPO_ROOT)
        if not rel.startswith(os.path.join('docs', '_build')):
            pages.append(rel)
    return pages


def checked_pages() -> List[str]:
    """The pages whose tool and config references are checked: README,
    docs/, and the two READMEs that give commands with figures."""
    return docs_pages() + [
        'CHANGELOG.md',
        'benchmarks/README.md',
        'configs/solov2/README.md',
    ]


def read(rel_path: str) -> str:
    with open(repo_path(rel_path), encoding='utf-8') as f:
        return f.read()


class Block(NamedTuple):
    """A fenced block: its page, first line (1-based), info string, text
    and the marker comment on the line before it ('' if none)."""

    page: str
    line: int
    info: str
    text: str
    marker: str

    @property
    def language(self) -> str:
        return self.info.split()[0].lower() if self.info.split() else ''

    def where(self) -> str:
        return f'{self.page}:{self.line}'


def split_page(page: str, text: Optional[str] = None):
    """The fenced blocks of a page, and its text outside them."""
    text = read(page) if text is None else text
    blocks, prose = [], []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        match = FENCE.match(lines[i].strip())
        if not match:
            prose.append(lines[i])
            i += 1
            continue
        fence, info = match.group(1), match.group(2).strip()
        marker = ''
        for back in range(len(prose) - 1, -1, -1):
            if prose[back].strip():
                marker = prose[back].strip()
                break
        body = []
        i += 1
        while i < len(lines) and not lines[i].strip().startswith(fence):
            body.append(lines[i])
            i += 1
        start = i - len(body)
        blocks.append(Block(page, start, info, '\n'.join(body) + '\n', marker))
        prose.append('')
        i += 1
    return blocks, '\n'.join(prose)


def blocks_of(pages: List[str]) -> Iterator[Block]:
    for page in pages:
        yield from split_page(page)[0]


def inline_code(prose: str) -> List[str]:
    """The inline code spans of a page's prose (tables included)."""
    return [m.group(2).strip() for m in INLINE_CODE.finditer(prose)]


def shell_commands(text: str) -> List[str]:
    """The commands of a shell block: backslash continuations joined,
    comments dropped, split at ``&&``, ``;`` and ``|``."""
    commands = []
    for line in text.replace('\\\n', ' ').splitlines():
        line = re.sub(r'(^|\s)#.*$', '', line)
        commands += [
            part
            for part in re.split(r'&&|;|\|\||\s\|\s', line)
            if part.strip()
        ]
    return commands


def command_sources(pages: List[str]) -> Iterator[tuple]:
    """(where, command) for every shell command of a non-Python block and
    every inline code span of the pages."""
    for page in pages:
        blocks, prose = split_page(page)
        for block in blocks:
            if block.language in (
                'python',
                'py',
                'yaml',
                'bibtex',
                'latex',
                'json',
            ):
                continue
            for command in shell_commands(block.text):
                yield block.where(), command
        for span in inline_code(prose):
            yield page, span


def tool_and_flags(command: str) -> Iterator[tuple]:
    """(script path, flags written after it) for each script a command
    runs; a flag is cut at ``=`` and stripped of brackets."""
    try:
        tokens = shlex.split(command, posix=True)
    except ValueError:
        tokens = command.split()
    current, flags = None, []
    for token in tokens:
        match = SCRIPT_PATH.search(token)
        if match and (
            token == match.group(1)
            or token.endswith('/' + match.group(1))
            or token.strip('[]()') == match.group(1)
        ):
            if current:
                yield current, flags
            current, flags = match.group(1), []
            continue
        if current:
            flags += FLAG.findall(token.strip('[]()|'))[:1]
    if current:
        yield current, flags


class _Captured(Exception):
    def __init__(self, parser: argparse.ArgumentParser) -> None:
        super().__init__('parser captured')
        self.parser = parser


def _options(parser: argparse.ArgumentParser) -> Set[str]:
    options = set(parser._option_string_actions)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                options |= _options(sub)
    return options


_TOOL_OPTIONS: Dict[str, Set[str]] = {}


def tool_options(script: str) -> Set[str]:
    """The option strings of a Python tool's command line, read from its
    own argparse parser: the script runs as ``__main__`` until it parses
    its arguments, where the parser is taken and the run stopped."""
    if script in _TOOL_OPTIONS:
        return _TOOL_OPTIONS[script]
    path = repo_path(script)
    original = argparse.ArgumentParser.parse_known_args

    def capture(self, *args, **kwargs):
        raise _Captured(self)

    argv, sys.argv = sys.argv, [path]
    sys_path = list(sys.path)
    argparse.ArgumentParser.parse_known_args = capture
    try:
        runpy.run_path(path, run_name='__main__')
    except _Captured as captured:
        options = _options(captured.parser)
    else:
        raise AssertionError(f'{script} parsed no command line')
    finally:
        argparse.ArgumentParser.parse_known_args = original
        sys.argv = argv
        sys.path[:] = sys_path
    _TOOL_OPTIONS[script] = options
    return options


def script_options_static(script: str) -> Set[str]:
    """The options a script declares (``add_argument('--x'``), read from
    its source without running it (for the benchmark scripts)."""
    source = read(script)
    return set(re.findall(r"add_argument\(\s*'(--[\w-]+)'", source)) | set(
        re.findall(r"add_argument\(\s*'--[\w-]+',\s*'(--[\w-]+)'", source)
    )
