"""What README.md and docs/ name exists and is what they say: scripts,
the options written after a tool, configs (each loads), make targets, and
relative links."""

import os
import re

import pytest
from doc_text import (
    CONFIG_MARK,
    CONFIG_PATH,
    FLAG,
    SCRIPT_PATH,
    SHELL_TOOLS,
    blocks_of,
    checked_pages,
    command_sources,
    docs_pages,
    read,
    repo_path,
    script_options_static,
    split_page,
    tool_and_flags,
    tool_options,
)

PAGES = checked_pages()
# Options of commands that are not mmsolo's scripts, which pages mention.
OTHER_COMMANDS_OPTIONS = {
    '--index-url',
    '--no-build-isolation',
    '--no-deps',
    '--upgrade',
    '--keep-going',
    '--dist',
    '--help',
    '--find-links',
    '--extra-index-url',
    '--nproc_per_node',
    '--nnodes',
    '--node_rank',
    '--master_addr',
    '--master_port',
}


def named(pattern: re.Pattern, pages=PAGES) -> dict:
    """Every match of ``pattern`` in the pages, with where it is."""
    found = {}
    for page in pages:
        for number, line in enumerate(read(page).splitlines(), 1):
            for match in pattern.finditer(line):
                found.setdefault(match.group(1), f'{page}:{number}')
    return found


def doc_config_files() -> dict:
    """Config files a page shows in full (``<!-- config: PATH -->``)."""
    return {
        CONFIG_MARK.match(block.marker).group(1): block
        for block in blocks_of(docs_pages())
        if CONFIG_MARK.match(block.marker)
    }


def test_scripts_exist():
    missing = [
        f'{path} ({where})'
        for path, where in named(SCRIPT_PATH).items()
        if not os.path.isfile(repo_path(path))
    ]
    assert not missing


def test_the_pages_name_the_main_tools():
    scripts = named(SCRIPT_PATH, docs_pages())
    for tool in (
        'tools/train.py',
        'tools/test.py',
        'tools/dist_train.sh',
        'tools/demo/image_demo.py',
        'tools/model_converters/solov2_zoo2mmsolo.py',
        'tools/deployment/pytorch2onnx.py',
    ):
        assert tool in scripts


def test_flags_after_a_tool_are_its_options():
    wrong = []
    for where, command in command_sources(PAGES):
        for script, flags in tool_and_flags(command):
            if not script.startswith('tools/'):
                continue
            tool = SHELL_TOOLS.get(script, script)
            if tool is None or tool.endswith('.sh'):
                wrong += [
                    f'{where}: {script} takes no {flag}' for flag in flags
                ]
                continue
            options = tool_options(tool)
            wrong += [
                f'{where}: {flag} is not an option of {tool}'
                for flag in flags
                if flag not in options
            ]
    assert not wrong


def test_every_flag_is_some_command_s_option():
    """A flag named alone in the prose (an option table, a sentence) is an
    option of one of mmsolo's scripts or of a command the pages use."""
    known = set(OTHER_COMMANDS_OPTIONS)
    for script in named(SCRIPT_PATH):
        if script.startswith('tools/') and script.endswith('.py'):
            known |= tool_options(script)
        elif script.startswith('benchmarks/') and script.endswith('.py'):
            known |= script_options_static(script)
    unknown = [
        f'{flag} ({where})'
        for flag, where in named(
            re.compile(r'`[^`]*?(?<![\w-])(--[A-Za-z][\w-]*)'), docs_pages()
        ).items()
        if flag not in known
    ]
    assert not unknown


def test_configs_exist():
    shown = doc_config_files()
    missing = [
        f'{path} ({where})'
        for path, where in named(CONFIG_PATH).items()
        if not os.path.isfile(repo_path(path)) and path not in shown
    ]
    assert not missing


def test_config_file_names_exist():
    """A config named by its file name alone (model zoo and migration
    tables) is one of configs/."""
    configs = set()
    for _, _, files in os.walk(repo_path('configs')):
        configs |= {name for name in files if name.endswith('.py')}
    bare = named(re.compile(r'`(solov2[\w.-]*_fpn[\w.-]*\.py)`'), docs_pages())
    assert not [
        f'{name} ({where})'
        for name, where in bare.items()
        if name not in configs
    ]


@pytest.mark.parametrize(
    'config',
    sorted(p for p in named(CONFIG_PATH) if os.path.isfile(repo_path(p))),
)
def test_named_configs_load(config):
    from mmengine.config import Config

    cfg = Config.fromfile(repo_path(config))
    assert 'model' in cfg or config.startswith('configs/_base_/')


def test_make_targets_exist():
    makefile = read('Makefile')
    targets = set(re.findall(r'^([\w-]+):', makefile, re.M))
    make = re.compile(r'^(?:\w+=\S*\s+)*make\s+([a-z][\w-]*)')
    wrong = []
    for where, command in command_sources(docs_pages()):
        match = make.match(command.strip())
        if match and match.group(1) not in targets:
            wrong.append(f'make {match.group(1)} ({where})')
    assert not wrong


LINK = re.compile(r'\]\(([^)\s]+)\)')


@pytest.mark.parametrize('page', PAGES)
def test_relative_links_exist(page):
    _, prose = split_page(page)
    missing = []
    for target in LINK.findall(prose):
        if re.match(r'[a-z]+:', target) or target.startswith('#'):
            continue
        path = target.split('#')[0]
        full = os.path.normpath(
            os.path.join(repo_path(os.path.dirname(page)), path)
        )
        if not os.path.exists(full):
            missing.append(target)
    assert not missing


def test_the_flag_reader_reads_tool_parsers():
    assert '--auto-scale-lr' in tool_options('tools/train.py')
    assert '--tta' in tool_options('tools/test.py')
    assert '--from' in tool_options(
        'tools/model_converters/solov2_zoo2mmsolo.py'
    )
    assert '--keys' in tool_options('tools/analysis_tools/analyze_logs.py')
    found = list(
        tool_and_flags(
            'bash tools/dist_train.sh CFG 8 --auto-scale-lr [--resume [CKPT]]'
        )
    )
    assert found == [('tools/dist_train.sh', ['--auto-scale-lr', '--resume'])]
    assert FLAG.findall('[--device') == ['--device']
