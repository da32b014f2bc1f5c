"""A config a page shows in full (``<!-- config: PATH -->`` on the line
before its block) loads with mmengine; where PATH is a file of the
repository, the block is that file (its comment lines aside), otherwise it
is loaded from PATH in a scratch tree whose configs/ holds the repository's
folders, so that its ``_base_`` resolves as it would for a user."""

import os

import pytest
from doc_text import CONFIG_MARK, REPO_ROOT, blocks_of, docs_pages, read

BLOCKS = [
    block
    for block in blocks_of(docs_pages())
    if CONFIG_MARK.match(block.marker)
]


def code_lines(text: str) -> list:
    return [
        line.rstrip()
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith('#')
    ]


def test_pages_show_configs():
    assert BLOCKS


@pytest.mark.parametrize('block', BLOCKS, ids=lambda b: b.where())
def test_config_block_loads(block, tmp_path):
    from mmengine.config import Config

    path = CONFIG_MARK.match(block.marker).group(1)
    assert path.startswith('configs/') and path.endswith('.py'), path
    if os.path.isfile(os.path.join(REPO_ROOT, path)):
        assert code_lines(block.text) == code_lines(read(path))
        config_file = os.path.join(REPO_ROOT, path)
    else:
        configs = tmp_path / 'configs'
        configs.mkdir()
        for name in os.listdir(os.path.join(REPO_ROOT, 'configs')):
            os.symlink(
                os.path.join(REPO_ROOT, 'configs', name), configs / name
            )
        target = tmp_path / path
        assert not os.path.lexists(target.parent), (
            f"{path}: its folder is one of the repository's, where the "
            'file does not exist'
        )
        target.parent.mkdir(parents=True)
        target.write_text(block.text)
        config_file = str(target)
    cfg = Config.fromfile(config_file)
    assert cfg.model.type.startswith('mmsolo.')
    assert cfg.model.mask_head.num_classes == len(
        cfg.train_dataloader.dataset.metainfo['classes']
    )
