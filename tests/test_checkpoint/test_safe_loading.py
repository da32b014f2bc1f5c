"""Reading a checkpoint never runs code from it, whatever path it comes by
(local file, URL, mmengine's loaders, a backbone's Pretrained init_cfg),
unless the user opts in."""

import shutil

import pytest
import torch
from mmengine.runner.checkpoint import (
    CheckpointLoader,
    _load_checkpoint,
    load_from_http,
)
from support.crafted_checkpoints import save_crafted_checkpoint

from mmsolo.checkpoint import (
    UnsafeCheckpointError,
    install_safe_loaders,
    load_checkpoint_file,
    load_url_safely,
    unsafe_checkpoint_loading,
)
from mmsolo.registry import MODELS


@pytest.fixture
def marker(tmp_path):
    return tmp_path / 'code_ran'


def assert_refused(error, path, marker):
    message = str(error.value)
    assert str(path) in message
    assert "'builtins.exec'" in message
    assert '--unsafe-load' in message
    assert not marker.exists()


@pytest.mark.parametrize('where', ['top', 'meta', 'state_dict'])
def test_crafted_file_is_refused_before_its_code_runs(tmp_path, marker, where):
    path = save_crafted_checkpoint(tmp_path / 'evil.pth', marker, where)
    with pytest.raises(UnsafeCheckpointError) as error:
        load_checkpoint_file(path)
    assert_refused(error, path, marker)


def test_crafted_file_really_runs_code_when_unpickled_fully(tmp_path, marker):
    """The control: the same file, with the explicit opt-in, does run its
    code (so the refusals above are what keeps the marker away)."""
    path = save_crafted_checkpoint(tmp_path / 'evil.pth', marker, 'meta')
    with unsafe_checkpoint_loading():
        load_checkpoint_file(path)
    assert marker.exists()


def test_opt_in_ends_with_its_block(tmp_path, marker):
    path = save_crafted_checkpoint(tmp_path / 'evil.pth', marker)
    with unsafe_checkpoint_loading():
        pass
    with pytest.raises(UnsafeCheckpointError):
        load_checkpoint_file(path)
    assert not marker.exists()


def test_plain_checkpoint_loads(tmp_path):
    path = tmp_path / 'ok.pth'
    torch.save(
        dict(meta=dict(classes=('a', 'b')), state_dict={'w': torch.arange(3)}),
        path,
    )
    loaded = load_checkpoint_file(path)
    assert loaded['meta']['classes'] == ('a', 'b')
    assert torch.equal(loaded['state_dict']['w'], torch.arange(3))


def test_missing_file_named(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        load_checkpoint_file(tmp_path / 'nope.pth')


def test_mmengine_local_loader_is_the_safe_one(tmp_path, marker):
    install_safe_loaders()
    path = save_crafted_checkpoint(tmp_path / 'evil.pth', marker, 'meta')
    with pytest.raises(UnsafeCheckpointError) as error:
        _load_checkpoint(str(path), map_location='cpu')
    assert_refused(error, path, marker)
    assert (
        CheckpointLoader._schemes[''].__module__
        == 'mmsolo.checkpoint.safe_loading'
    )


@pytest.fixture
def fake_download(monkeypatch, tmp_path):
    """torch.hub's download replaced by a copy of a local file (no network
    here); returns the dict mapping URLs to the files they serve."""
    served = {}

    def download(url, dst, hash_prefix=None, progress=True):
        shutil.copy(served[url], dst)

    monkeypatch.setattr(torch.hub, 'download_url_to_file', download)
    monkeypatch.setattr(torch.hub, 'get_dir', lambda: str(tmp_path / 'hub'))
    return served


def test_downloaded_checkpoint_is_read_safely(tmp_path, marker, fake_download):
    """mmengine reads URLs (model zoos, torchvision://, open-mmlab://) with
    torch.hub.load_state_dict_from_url, whose weights_only defaults to
    False: mmsolo's loaders replace it."""
    install_safe_loaders()
    url = 'https://download.example.com/solov2_evil.pth'
    fake_download[url] = save_crafted_checkpoint(
        tmp_path / 'evil.pth', marker, 'state_dict'
    )
    with pytest.raises(UnsafeCheckpointError) as error:
        load_from_http(url, map_location='cpu')
    assert 'solov2_evil.pth' in str(error.value)
    assert not marker.exists()
    with pytest.raises(UnsafeCheckpointError):
        _load_checkpoint(url, map_location='cpu')
    assert not marker.exists()

    good_url = 'https://download.example.com/good.pth'
    fake_download[good_url] = tmp_path / 'good.pth'
    torch.save({'w': torch.ones(2)}, fake_download[good_url])
    assert torch.equal(load_url_safely(good_url)['w'], torch.ones(2))


def test_backbone_pretrained_init_cfg_is_read_safely(tmp_path, marker):
    install_safe_loaders()
    path = save_crafted_checkpoint(tmp_path / 'resnet.pth', marker, 'meta')
    backbone = MODELS.build(
        dict(
            type='ResNet',
            depth=18,
            init_cfg=dict(type='Pretrained', checkpoint=str(path)),
        )
    )
    with pytest.raises(UnsafeCheckpointError):
        backbone.init_weights()
    assert not marker.exists()
