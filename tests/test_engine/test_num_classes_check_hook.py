"""NumClassesCheckHook: a head whose num_classes differs from the dataset's
classes stops the run before its first step, with both numbers and the
config field to change."""

import copy
import re
import subprocess

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import ClassBalancedDataset, ConcatDataset, RepeatDataset
from mmengine.hooks import Hook
from mmengine.runner import Runner

from mmsolo.datasets import write_split
from mmsolo.engine.hooks import (
    NumClassesCheckHook,
    check_num_classes,
    describe_dataset,
    modules_with_num_classes,
)
from mmsolo.registry import DATASETS, HOOKS, MODELS

QUICKSTART = 'configs/quickstart/solov2-light_r18_fpn_shapes.py'
SHAPES = "('circle', 'square', 'triangle')"


@pytest.fixture(scope='module')
def shapes_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('shapes')
    write_split(str(root), 'train', num_images=4, seed=3)
    write_split(str(root), 'val', num_images=2, seed=4)
    return root


def quickstart_cfg(repo_root, data_root, work_dir, **options) -> Config:
    """The quick-start config on ``data_root``: one iteration, no workers."""
    cfg = Config.fromfile(f'{repo_root}/{QUICKSTART}')
    data = f'{data_root}/'
    cfg.merge_from_dict(
        {
            'work_dir': str(work_dir),
            'train_dataloader.dataset.data_root': data,
            'train_dataloader.batch_size': 2,
            'train_dataloader.num_workers': 0,
            'train_dataloader.persistent_workers': False,
            'val_dataloader.dataset.data_root': data,
            'val_dataloader.num_workers': 0,
            'val_evaluator.ann_file': f'{data}annotations/instances_val.json',
            'train_cfg.max_iters': 1,
            'default_hooks.logger.interval': 1,
            **options,
        }
    )
    cfg.test_dataloader = cfg.val_dataloader
    cfg.test_evaluator = cfg.val_evaluator
    return cfg


class IterRecorder(Hook):
    """Counts the training iterations that started."""

    def __init__(self):
        self.started = 0

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        self.started += 1


def test_default_runtime_lists_the_hook(repo_root):
    cfg = Config.fromfile(f'{repo_root}/configs/_base_/default_runtime.py')
    assert dict(type='mmsolo.NumClassesCheckHook') in cfg.custom_hooks
    assert isinstance(HOOKS.build(cfg.custom_hooks[0]), NumClassesCheckHook)


def test_runner_stops_before_first_iteration(repo_root, shapes_root, tmp_path):
    cfg = quickstart_cfg(
        repo_root, shapes_root, tmp_path, **{'model.mask_head.num_classes': 80}
    )
    runner = Runner.from_cfg(cfg)
    recorder = IterRecorder()
    runner.register_hook(recorder)
    with pytest.raises(ValueError) as error:
        runner.train()
    assert recorder.started == 0 and runner.iter == 0
    ann_file = f'{shapes_root}/annotations/instances_train.json'
    assert str(error.value) == (
        'model.mask_head.num_classes is 80 but train_dataloader.dataset '
        f"(CheckedCocoDataset, ann_file '{ann_file}') has 3 classes "
        f'{SHAPES}: set '
        'model.mask_head.num_classes=3 in your config'
    )


def test_runner_with_matching_head_trains(repo_root, shapes_root, tmp_path):
    cfg = quickstart_cfg(repo_root, shapes_root, tmp_path)
    runner = Runner.from_cfg(cfg)
    recorder = IterRecorder()
    runner.register_hook(recorder)
    runner.train()
    assert recorder.started == 1 and runner.iter == 1


def test_val_mismatch_is_caught_before_training(
    repo_root, shapes_root, tmp_path
):
    """The val set is checked before the first training step, not after the
    whole schedule when validation first runs."""
    cfg = quickstart_cfg(
        repo_root,
        shapes_root,
        tmp_path,
        **{
            'val_dataloader.dataset.metainfo': dict(
                classes=('circle', 'square')
            )
        },
    )
    runner = Runner.from_cfg(cfg)
    recorder = IterRecorder()
    runner.register_hook(recorder)
    with pytest.raises(
        ValueError,
        match=re.escape(
            'model.mask_head.num_classes is 3 but val_dataloader.dataset '
            '(CheckedCocoDataset'
        ),
    ) as error:
        runner.train()
    assert "has 2 classes ('circle', 'square')" in str(error.value)
    assert recorder.started == 0


@pytest.fixture(scope='module')
def shapes_dataset_cfg(shapes_root):
    return dict(
        type='mmsolo.CheckedCocoDataset',
        data_root=f'{shapes_root}/',
        ann_file='annotations/instances_train.json',
        data_prefix=dict(img='train/'),
        metainfo=dict(classes=('circle', 'square', 'triangle')),
        pipeline=[],
    )


@pytest.fixture(scope='module')
def head_80():
    cfg = Config.fromfile(QUICKSTART)
    cfg.model.mask_head.num_classes = 80
    return MODELS.build(cfg.model)


@pytest.mark.parametrize(
    'wrapper', ['ClassBalancedDataset', 'RepeatDataset', 'ConcatDataset']
)
def test_wrapped_datasets_are_checked(wrapper, shapes_dataset_cfg, head_80):
    inner = copy.deepcopy(shapes_dataset_cfg)
    if wrapper == 'ClassBalancedDataset':
        cfg = dict(type=wrapper, oversample_thr=1e-3, dataset=inner)
        inner_field = 'train_dataloader.dataset.dataset'
    elif wrapper == 'RepeatDataset':
        cfg = dict(type=wrapper, times=2, dataset=inner)
        inner_field = 'train_dataloader.dataset.dataset'
    else:
        cfg = dict(type=wrapper, datasets=[inner, copy.deepcopy(inner)])
        inner_field = 'train_dataloader.dataset.datasets[0]'
    dataset = DATASETS.build(cfg)
    assert isinstance(
        dataset, (ClassBalancedDataset, RepeatDataset, ConcatDataset)
    )
    assert describe_dataset(dataset).startswith(
        f'{wrapper} of CheckedCocoDataset, ann_file '
    )
    with pytest.raises(
        ValueError,
        match=re.escape(
            f'but train_dataloader.dataset ({wrapper} of CheckedCocoDataset'
        ),
    ):
        check_num_classes(head_80, dataset, 'train_dataloader.dataset')
    # A one-class tuple written without its comma is a string.
    dataset._metainfo['classes'] = 'circle'
    with pytest.raises(
        ValueError,
        match=re.escape(
            f"{inner_field}.metainfo.classes is the string 'circle'"
        ),
    ):
        check_num_classes(head_80, dataset, 'train_dataloader.dataset')


def test_default_coco_classes_get_a_metainfo_hint(shapes_dataset_cfg):
    """A CocoDataset without metainfo has COCO's 80 classes whatever its
    file holds: the message says where to list the real ones."""
    cfg = Config.fromfile(QUICKSTART)
    model = MODELS.build(cfg.model)  # 3 classes
    dataset_cfg = copy.deepcopy(shapes_dataset_cfg)
    del dataset_cfg['metainfo']
    # mmsolo's CocoDataset stops at once: the file has none of the names.
    with pytest.raises(
        ValueError,
        match="has no category named 'person', "
        r"'bicycle', .* \.\.\. 80 in all; its categories are "
        "'circle', 'square', 'triangle'",
    ):
        DATASETS.build(dataset_cfg)
    # mmdet's builds, and the hook explains.
    dataset = DATASETS.build(dict(dataset_cfg, type='mmdet.CocoDataset'))
    with pytest.raises(ValueError) as error:
        check_num_classes(model, dataset, 'train_dataloader.dataset')
    message = str(error.value)
    assert 'has 80 classes (' in message and '... 80 in all)' in message
    assert message.endswith(
        "These are CocoDataset's default classes: if your annotation file "
        'has other categories, list them in '
        'train_dataloader.dataset.metainfo=dict(classes=(...))'
    )


def test_modules_with_num_classes_skip_the_backbone(head_80):
    head_80.backbone.num_classes = 1000  # an ImageNet classifier's
    try:
        assert modules_with_num_classes(head_80) == [
            ('model.mask_head.num_classes', 80)
        ]
    finally:
        del head_80.backbone.num_classes


def test_dataset_without_classes_is_skipped_with_a_warning(head_80):

    class NoClasses(torch.utils.data.Dataset):
        metainfo = {}

    warning = check_num_classes(head_80, NoClasses(), 'val_dataloader.dataset')
    assert warning.startswith(
        'val_dataloader.dataset (NoClasses) has no "classes" in its metainfo'
    )


def test_tools_test_refuses_a_mismatched_config(
    repo_root, shapes_root, tmp_path, python, head_80
):
    checkpoint = tmp_path / 'head80.pth'
    torch.save(dict(state_dict=head_80.state_dict(), meta={}), checkpoint)
    data = f'{shapes_root}/'
    config = tmp_path / 'mismatch.py'
    config.write_text(f"""
_base_ = '{repo_root}/{QUICKSTART}'
model = dict(mask_head=dict(num_classes=80))
test_dataloader = dict(
    num_workers=0,
    dataset=dict(data_root='{data}'))
test_evaluator = dict(ann_file='{data}annotations/instances_val.json')
""")
    done = subprocess.run(
        [
            python,
            'tools/test.py',
            str(config),
            str(checkpoint),
            '--work-dir',
            str(tmp_path / 'work'),
        ],
        cwd=repo_root,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode != 0
    ann_file = f'{data}annotations/instances_val.json'
    assert (
        'ValueError: model.mask_head.num_classes is 80 but '
        'test_dataloader.dataset (CheckedCocoDataset, ann_file '
        f"'{ann_file}') "
        f'has 3 classes {SHAPES}: set model.mask_head.num_classes=3 in '
        'your config'
    ) in done.stderr, done.stderr[-3000:]


PANOPTIC_QUICKSTART = (
    'configs/quickstart/solov2-panoptic_r18_fpn_shapes-panoptic.py'
)


class PanopticMeta(torch.utils.data.Dataset):
    """A dataset with only the panoptic metainfo the hook reads."""

    metainfo = dict(
        classes=('circle', 'square', 'triangle', 'sky', 'ground', 'water'),
        thing_classes=('circle', 'square', 'triangle'),
        stuff_classes=('sky', 'ground', 'water'),
    )


@pytest.fixture(scope='module')
def panoptic_model(repo_root):
    cfg = Config.fromfile(f'{repo_root}/{PANOPTIC_QUICKSTART}')
    return MODELS.build(cfg.model)


def test_panoptic_parts_are_checked_against_things_and_stuff(panoptic_model):
    """The instance head counts the thing classes, the semantic and fusion
    heads the things and the stuff; the 6 classes in all match none."""
    assert (
        check_num_classes(
            panoptic_model, PanopticMeta(), 'train_dataloader.dataset'
        )
        is None
    )
    assert (
        'model.semantic_head.num_stuff_classes',
        3,
    ) in modules_with_num_classes(panoptic_model)
    panoptic_model.semantic_head.num_stuff_classes = 2
    try:
        with pytest.raises(ValueError) as error:
            check_num_classes(
                panoptic_model, PanopticMeta(), 'train_dataloader.dataset'
            )
    finally:
        panoptic_model.semantic_head.num_stuff_classes = 3
    assert str(error.value) == (
        'model.semantic_head.num_stuff_classes is 2 but '
        'train_dataloader.dataset (PanopticMeta) has 3 thing classes '
        "('circle', 'square', 'triangle') and 3 stuff classes ('sky', "
        "'ground', 'water'): set model.semantic_head.num_stuff_classes=3 in "
        'your config'
    )
    # A panoptic model on an instance dataset.
    instance_only = type(
        'InstanceMeta',
        (torch.utils.data.Dataset,),
        dict(metainfo=dict(classes=PanopticMeta.metainfo['classes'])),
    )()
    with pytest.raises(
        ValueError,
        match=re.escape(
            'model.semantic_head and model.panoptic_fusion_head segment '
            'stuff classes but val (InstanceMeta) is not a panoptic dataset'
        ),
    ):
        check_num_classes(panoptic_model, instance_only, 'val')
