"""docs/user_guides/finetune.md, "On a CPU": its commands train and test the
repository's one-class example config on data laid out as the page says,
and the num_classes error it shows is the one a run prints. (Its config
block is the repository's file: test_config_blocks.py.)"""

import json
import shlex
import subprocess

import pytest
from doc_text import read, split_page

from mmsolo.datasets import write_split

PAGE = 'docs/user_guides/finetune.md'
EXAMPLE = 'configs/quickstart/solov2-light_r18_fpn_balloon.py'
# Keep the runs short: one iteration, no worker processes.
FAST = (
    'train_cfg.max_iters=1 train_dataloader.batch_size=2 '
    'train_dataloader.num_workers=0 '
    'train_dataloader.persistent_workers=False '
    'val_dataloader.num_workers=0 default_hooks.logger.interval=1'
)


@pytest.fixture(scope='module')
def section() -> str:
    text = read(PAGE)
    start = text.index('\n## On a CPU\n')
    end = text.find('\n## ', start + 1)
    return text[start:] if end < 0 else text[start:end]


def blocks(section: str, language: str) -> list:
    return [
        block.text
        for block in split_page(PAGE, section)[0]
        if block.language == language
    ]


@pytest.fixture(scope='module')
def balloon_cwd(tmp_path_factory):
    """A working directory with data/balloon/{train,val}/ as the page lays
    it out: synthetic shapes whose circles are the 'balloon's."""
    cwd = tmp_path_factory.mktemp('own_data')
    root = cwd / 'data' / 'balloon'
    for split, num_images, seed in (('train', 6, 11), ('val', 2, 12)):
        coco_file = write_split(str(root), split, num_images, seed)
        with open(coco_file) as f:
            coco = json.load(f)
        coco['annotations'] = [
            a for a in coco['annotations'] if a['category_id'] == 1
        ]
        assert coco['annotations'], 'the seed should draw some circles'
        coco['categories'] = [dict(id=1, name='balloon')]
        with open(root / split / 'annotation_coco.json', 'w') as f:
            json.dump(coco, f)
    return cwd


def page_commands(section: str, repo_root: str, python: str) -> list:
    """The page's train and test commands, run from another directory."""
    commands = []
    for line in blocks(section, 'bash')[0].splitlines():
        assert line.startswith('.venv/bin/python tools/'), line
        line = line.replace('.venv/bin/python', shlex.quote(python), 1)
        line = line.replace(' tools/', f' {repo_root}/tools/', 1)
        line = line.replace(' configs/', f' {repo_root}/configs/', 1)
        commands.append(line)
    return commands


def run_shell(command: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run(
        command,
        shell=True,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_page_commands_train_and_test(section, repo_root, python, balloon_cwd):
    train, test = page_commands(section, repo_root, python)
    assert EXAMPLE in train and EXAMPLE in test
    done = run_shell(f'{train} --cfg-options {FAST}', balloon_cwd)
    assert done.returncode == 0, done.stderr[-3000:]
    assert 'Iter(train) [1/1]' in done.stdout + done.stderr
    # After one iteration no score passes the config's threshold: keep all.
    done = run_shell(
        f'{test} --cfg-options test_dataloader.num_workers=0 '
        'model.test_cfg.score_thr=0.0 model.test_cfg.filter_thr=-1',
        balloon_cwd,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    log = done.stdout + done.stderr
    checkpoint = balloon_cwd / 'work_dirs' / 'solov2-light_r18_fpn_balloon'
    assert f'Load checkpoint from {checkpoint}/iter_1.pth' in log, log[-3000:]
    assert 'coco/segm_mAP' in log, log[-3000:]


def test_page_num_classes_error_is_what_train_prints(
    section, repo_root, python, balloon_cwd
):
    error = next(
        line
        for line in blocks(section, '')[-1].splitlines()
        if line.startswith('ValueError: ')
    )
    option = 'model.mask_head.num_classes=3'
    assert f'`--cfg-options {option}`' in section.replace('\n', ' ')
    train = page_commands(section, repo_root, python)[0]
    done = run_shell(f'{train} --cfg-options {FAST} {option}', balloon_cwd)
    assert done.returncode != 0
    assert error in done.stderr.splitlines(), done.stderr[-3000:]
    assert 'Iter(train)' not in done.stdout + done.stderr


def test_the_error_is_the_one_the_data_checks_page_shows(section):
    """docs/user_guides/data_checks.md and docs/faq.md show the same
    message with the file name left out."""
    error = next(
        line
        for line in blocks(section, '')[-1].splitlines()
        if line.startswith('ValueError: ')
    )
    head, tail = error.split(" ann_file '")[0], error.split("') ")[1]
    for page in ('docs/user_guides/data_checks.md', 'docs/faq.md'):
        text = read(page)
        assert head in text and tail in text, page
