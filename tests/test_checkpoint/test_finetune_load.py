"""``load_from`` a checkpoint trained on other classes (fine-tuning): every
weight but the classifier loads, the classifier is re-initialised for the
config's classes with one log line; any other shape mismatch, and a
classifier of another size when testing, stops the tool naming the key and
both shapes."""

import math
import os
import subprocess

import pytest
import torch
from support import (
    QUICKSTART,
    save_seeded_checkpoint,
    write_tiny_config,
    write_tiny_shapes,
)
from support.class_subsets import shift_checkpoint

from mmsolo.checkpoint import (
    CheckpointMismatchError,
    fit_checkpoint_to_model,
)

# The quick-start shapes set read with two of its three classes.
TWO_CLASSES = """_base_ = './tiny.py'
classes = ('circle', 'square')
model = dict(mask_head=dict(num_classes=len(classes)))
train_dataloader = dict(dataset=dict(metainfo=dict(classes=classes)))
val_dataloader = dict(dataset=dict(metainfo=dict(classes=classes)))
test_dataloader = val_dataloader
"""
BUFFERS = ('running_mean', 'running_var', 'num_batches_tracked')
# The quick-start head: 128 channels, 3x3 category conv.
REINIT_LINE = (
    'load_from: 2 keys re-initialised for 2 classes (checkpoint has 3): '
    'mask_head.conv_cls.weight (3, 128, 3, 3) -> (2, 128, 3, 3), '
    'mask_head.conv_cls.bias (3,) -> (2,)'
)


@pytest.fixture(scope='module')
def finetune(tmp_path_factory, repo_root):
    """A tiny shapes set, the 2-class config on it and a 3-class
    checkpoint of the quick-start model whose weights all differ from a
    fresh initialisation."""
    root = tmp_path_factory.mktemp('finetune')
    data = write_tiny_shapes(str(root / 'data'))
    write_tiny_config(str(root / 'tiny.py'), repo_root, data)
    config = root / 'two_classes.py'
    config.write_text(TWO_CLASSES)
    seeded = save_seeded_checkpoint(
        os.path.join(repo_root, QUICKSTART), str(root / 'seeded.pth')
    )
    three = shift_checkpoint(seeded, str(root / 'three_classes.pth'))
    return dict(root=root, config=str(config), checkpoint=three)


def run_tool(python, repo_root, *args):
    done = subprocess.run(
        [python, *args],
        cwd=repo_root,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return done.returncode, done.stdout + done.stderr


def test_train_finetunes_from_a_checkpoint_of_three_classes(
    finetune, repo_root, python
):
    work_dir = finetune['root'] / 'work'
    # lr 0: the 2 training steps run (losses, gradients) but leave the
    # weights as loaded, so the checkpoint at the end shows what loaded.
    code, log = run_tool(
        python,
        repo_root,
        'tools/train.py',
        finetune['config'],
        '--work-dir',
        str(work_dir),
        '--cfg-options',
        f'load_from={finetune["checkpoint"]}',
        'train_cfg.max_iters=2',
        'optim_wrapper.optimizer.lr=0.0',
    )
    assert code == 0, log[-4000:]
    assert 'Iter(train) [2/2]' in log
    lines = [line for line in log.splitlines() if 're-initialised' in line]
    assert len(lines) == 1 and lines[0].endswith(REINIT_LINE), lines
    assert 'size mismatch' not in log
    assert 'do not match exactly' not in log

    source = torch.load(finetune['checkpoint'], weights_only=True)
    trained = torch.load(work_dir / 'iter_2.pth', weights_only=True)
    source, trained = source['state_dict'], trained['state_dict']
    assert set(trained) == set(source)
    loaded = [
        key
        for key in source
        if not key.startswith('mask_head.conv_cls.')
        and not key.endswith(BUFFERS)
    ]
    assert len(loaded) > 100
    for key in loaded:
        assert torch.equal(trained[key], source[key]), key
    assert trained['mask_head.conv_cls.weight'].shape == (2, 128, 3, 3)
    # The head's initialisation (focal prior 0.01), not the checkpoint's
    # bias shifted by 0.5.
    prior = -math.log(0.99 / 0.01)
    assert torch.allclose(
        trained['mask_head.conv_cls.bias'], torch.full((2,), prior)
    )


def test_train_stops_on_a_mismatch_outside_the_classifier(
    finetune, repo_root, python
):
    code, log = run_tool(
        python,
        repo_root,
        'tools/train.py',
        finetune['config'],
        '--work-dir',
        str(finetune['root'] / 'work_depth'),
        '--cfg-options',
        f'load_from={finetune["checkpoint"]}',
        # ResNet-50 for the checkpoint's ResNet-18 (its FPN set to match).
        'model.backbone.depth=50',
        'model.neck.in_channels=[128,256,512,1024]',
        'train_cfg.max_iters=2',
    )
    assert code == 1, log[-4000:]
    assert (
        f'error: load_from {finetune["checkpoint"]} does not fit the model: '
        'backbone.layer1.0.conv1.weight is (32, 32, 3, 3) in the checkpoint '
        'but (32, 32, 1, 1) in the model'
    ) in log
    assert 'Traceback' not in log
    assert 'Iter(train)' not in log


def test_test_refuses_a_classifier_of_other_classes(
    finetune, repo_root, python
):
    code, log = run_tool(
        python,
        repo_root,
        'tools/test.py',
        finetune['config'],
        finetune['checkpoint'],
        '--work-dir',
        str(finetune['root'] / 'work_test'),
    )
    assert code == 1, log[-4000:]
    assert (
        'mask_head.conv_cls.weight is (3, 128, 3, 3) in the checkpoint but '
        '(2, 128, 3, 3) in the model'
    ) in log
    assert 'The checkpoint predicts 3 classes and the model 2' in log
    assert 'Traceback' not in log


def test_fit_checkpoint_to_model_rules():
    model_state = {
        'neck.conv.weight': torch.zeros(4, 2, 1, 1),
        'mask_head.conv_cls.weight': torch.zeros(2, 4, 3, 3),
        'mask_head.conv_cls.bias': torch.full((2,), -4.6),
    }
    same = {key: value + 1 for key, value in model_state.items()}
    assert fit_checkpoint_to_model(model_state, dict(state_dict=same)) is None

    # A DDP-saved plain state dict ('module.' keys) of 5 classes.
    other = {
        'module.neck.conv.weight': torch.ones(4, 2, 1, 1),
        'module.mask_head.conv_cls.weight': torch.ones(5, 4, 3, 3),
        'module.mask_head.conv_cls.bias': torch.ones(5),
    }
    line = fit_checkpoint_to_model(model_state, other)
    assert line.startswith('load_from: 2 keys re-initialised for 2 classes')
    fresh = model_state['mask_head.conv_cls.bias']
    assert torch.equal(other['module.mask_head.conv_cls.bias'], fresh)
    assert (other['module.neck.conv.weight'] == 1).all()

    # Resuming or testing: the classifier's size is an error.
    other['module.mask_head.conv_cls.bias'] = torch.ones(5)
    with pytest.raises(CheckpointMismatchError, match=r'\(5,\) in the'):
        fit_checkpoint_to_model(
            model_state,
            dict(state_dict=other),
            source='the checkpoint',
            reinit_classifiers=False,
        )

    # A classifier with other input channels is another architecture; the
    # checkpoint stays as it was.
    wide = {'mask_head.conv_cls.weight': torch.ones(5, 8, 3, 3)}
    with pytest.raises(CheckpointMismatchError) as error:
        fit_checkpoint_to_model(model_state, dict(state_dict=wide), path='x')
    assert (
        'load_from x does not fit the model: mask_head.conv_cls.weight is '
        '(5, 8, 3, 3) in the checkpoint but (2, 4, 3, 3) in the model'
    ) in str(error.value)
    assert wide['mask_head.conv_cls.weight'].shape == (5, 8, 3, 3)
