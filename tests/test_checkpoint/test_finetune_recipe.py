"""The GPU fine-tuning recipe (configs/solov2/solov2_r50_fpn_8e_balloon.py)
dry-run on the CPU: its Runner, as tools/train.py builds it, trains 1-2
iterations on a tiny generated one-class set from a checkpoint of the same
config with 3 classes (R50 weights random: no download), re-initialises
the classifier in one log line and scales the lr to the batch."""

import glob
import os

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner
from support.class_subsets import write_subset_shapes

from mmsolo.registry import MODELS
from mmsolo.runner import load_run_config

RECIPE = 'configs/solov2/solov2_r50_fpn_8e_balloon.py'


def save_other_classes_checkpoint(config: str, path: str, classes: int):
    """The model of ``config`` with ``classes`` classes, seeded random
    weights, as ``{'state_dict': ...}``."""
    cfg = Config.fromfile(config)
    cfg.model.mask_head.num_classes = classes
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    torch.save(dict(state_dict=model.state_dict()), path)
    return model.state_dict()


def data_options(data: dict, checkpoint: str) -> dict:
    """``--cfg-options`` pointing the recipe at the generated set; one
    epoch (the images with a circle of the 4, in batches of 2), loaded in
    the main process."""
    options = dict(load_from=checkpoint)
    for loader, split in (
        ('train_dataloader', 'train'),
        ('val_dataloader', 'val'),
        ('test_dataloader', 'val'),
    ):
        options[f'{loader}.dataset.data_root'] = data['root']
        options[f'{loader}.dataset.ann_file'] = data[f'{split}_ann']
        options[f'{loader}.dataset.data_prefix'] = dict(
            img=data[f'{split}_img']
        )
        options[f'{loader}.num_workers'] = 0
        options[f'{loader}.persistent_workers'] = False
    for evaluator in ('val_evaluator', 'test_evaluator'):
        options[f'{evaluator}.ann_file'] = data['val_ann']
    options['train_cfg.max_epochs'] = 1
    return options


def small_inputs(pipeline: list) -> None:
    """The recipe's resize to 1333x800 made 256x256: the pipeline stays,
    the CPU steps take seconds."""
    resizes = [step for step in pipeline if step['type'] == 'Resize']
    assert resizes, pipeline
    for step in resizes:
        step['scale'] = (256, 256)


@pytest.mark.filterwarnings('ignore::UserWarning')
def test_recipe_finetunes_from_a_checkpoint_of_other_classes(
    tmp_path, repo_root
):
    recipe = os.path.join(repo_root, RECIPE)
    assert Config.fromfile(recipe).load_from.startswith('checkpoints/')
    data = write_subset_shapes(
        str(tmp_path / 'data'), ('circle',), names=('balloon',)
    )
    checkpoint = str(tmp_path / 'three_classes.pth')
    source = save_other_classes_checkpoint(recipe, checkpoint, 3)

    cfg = load_run_config(
        recipe, data_options(data, checkpoint), str(tmp_path / 'work')
    )
    small_inputs(cfg.train_dataloader.dataset.pipeline)
    small_inputs(cfg.val_dataloader.dataset.pipeline)
    runner = Runner.from_cfg(cfg)
    runner.train()

    (log_file,) = glob.glob(os.path.join(runner.log_dir, '*.log'))
    with open(log_file) as f:
        log = f.read()
    assert (
        'load_from: 2 keys re-initialised for 1 class (checkpoint has 3): '
        'mask_head.conv_cls.weight (3, 512, 3, 3) -> (1, 512, 3, 3), '
        'mask_head.conv_cls.bias (3,) -> (1,)'
    ) in log
    assert 'size mismatch' not in log
    # 2 images per batch in one process against the recipe's 16.
    assert 'Scaling the original LR by 0.125' in log
    group = runner.optim_wrapper.optimizer.param_groups[0]
    assert group['initial_lr'] == pytest.approx(0.01 * 2 / 16)
    assert 'Epoch(train) [1][' in log and 'coco/segm_mAP' in log

    model = runner.model
    assert model.mask_head.conv_cls.weight.shape == (1, 512, 3, 3)
    # The frozen stem (frozen_stages=1) is the checkpoint's after training.
    assert torch.equal(
        model.backbone.conv1.weight, source['backbone.conv1.weight']
    )
    assert os.path.isfile(os.path.join(cfg.work_dir, 'epoch_1.pth'))
