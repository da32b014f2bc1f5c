"""Every tool that reads a checkpoint refuses one whose pickle runs code
(the marker file never appears, the tool exits non-zero naming the file, the
global and --unsafe-load); a checkpoint tools/train.py writes loads with
torch's restricted unpickler, in mmdet's init_detector and DetInferencer,
and predicts there what tools/test.py predicts."""

import os
import os.path as osp
import pickle
import subprocess
import textwrap

import numpy as np
import pytest
import torch
from support.crafted_checkpoints import save_crafted_checkpoint

from mmsolo.datasets import write_split

QUICKSTART = 'configs/quickstart/solov2-light_r18_fpn_shapes.py'


@pytest.fixture(scope='module')
def tiny_run(tmp_path_factory, repo_root, python):
    """The quick-start model trained 2 iterations on 4 tiny images by
    tools/train.py: its config, data, work dir and checkpoint."""
    root = tmp_path_factory.mktemp('ckpt_entry')
    data = root / 'shapes'
    write_split(str(data), 'train', num_images=4, seed=0, size=128)
    write_split(str(data), 'val', num_images=2, seed=1, size=128)
    config = root / 'tiny.py'
    base = osp.join(repo_root, QUICKSTART)
    ann = f'{data}/annotations/instances_val.json'
    config.write_text(
        textwrap.dedent(f"""
        _base_ = {base!r}
        train_dataloader = dict(batch_size=2, num_workers=0,
                                persistent_workers=False,
                                dataset=dict(data_root={str(data) + '/'!r}))
        val_dataloader = dict(num_workers=0, persistent_workers=False,
                              dataset=dict(data_root={str(data) + '/'!r}))
        test_dataloader = val_dataloader
        val_evaluator = dict(ann_file={ann!r})
        test_evaluator = val_evaluator
        train_cfg = dict(max_iters=2, val_interval=1000)
        param_scheduler = []
        default_hooks = dict(logger=dict(interval=1),
                             checkpoint=dict(interval=2))
        """)
    )
    work_dir = root / 'work'
    done = subprocess.run(
        [python, 'tools/train.py', str(config), '--work-dir', str(work_dir)],
        cwd=repo_root,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    return dict(
        config=str(config),
        data=str(data),
        work_dir=work_dir,
        checkpoint=str(work_dir / 'iter_2.pth'),
        root=root,
    )


def test_training_checkpoint_loads_weights_only(tiny_run):
    checkpoint = torch.load(
        tiny_run['checkpoint'], map_location='cpu', weights_only=True
    )
    assert {
        'meta',
        'state_dict',
        'optimizer',
        'message_hub',
        'random_states',
    } <= set(checkpoint)
    hub = checkpoint['message_hub']
    assert hub['format'] == 'mmsolo.plain_message_hub.v1'
    stored = hub['log_scalars']['train/loss']
    assert stored['log_history'].dtype == torch.float64
    assert len(stored['log_history']) == 2
    assert checkpoint['meta']['dataset_meta']['classes'] == (
        'circle',
        'square',
        'triangle',
    )


def run_tool(repo_root, python, *command, timeout=600):
    done = subprocess.run(
        [python, *command] if command[0].endswith('.py') else list(command),
        cwd=repo_root,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=dict(os.environ, PYTHON=python),
    )
    return done.returncode, done.stdout + done.stderr


def pretrained_config(tiny_run, checkpoint: str) -> str:
    """The tiny config with its backbone initialised from ``checkpoint``."""
    path = tiny_run['root'] / 'pretrained_backbone.py'
    path.write_text(
        textwrap.dedent(f"""
        _base_ = {tiny_run['config']!r}
        model = dict(backbone=dict(init_cfg=dict(
            _delete_=True, type='Pretrained', checkpoint={checkpoint!r})))
        """)
    )
    return str(path)


def entry_points(tiny_run, crafted):
    """(name, command) of each entry point reading ``crafted``."""
    config, work = tiny_run['config'], str(tiny_run['root'] / 'evil_work')
    image = osp.join(tiny_run['data'], 'val', '000001.png')
    return {
        'test.py': ['tools/test.py', config, crafted],
        'dist_test.sh': ['bash', 'tools/dist_test.sh', config, crafted, '1'],
        'image_demo.py': [
            'tools/demo/image_demo.py',
            image,
            config,
            '--weights',
            crafted,
            '--out-file',
            str(tiny_run['root'] / 'demo.png'),
        ],
        'benchmark.py': [
            'tools/analysis_tools/benchmark.py',
            config,
            crafted,
            '--max-iter',
            '1',
            '--num-warmup',
            '0',
            '--synthetic',
        ],
        'mmdet2mmsolo.py': [
            'tools/model_converters/mmdet2mmsolo.py',
            crafted,
            str(tiny_run['root'] / 'converted.pth'),
        ],
        'solov2_zoo2mmsolo.py': [
            'tools/model_converters/solov2_zoo2mmsolo.py',
            crafted,
            str(tiny_run['root'] / 'converted.pth'),
        ],
        'train.py --resume': [
            'tools/train.py',
            config,
            '--work-dir',
            work,
            '--resume',
            crafted,
        ],
        'train.py load_from': [
            'tools/train.py',
            config,
            '--work-dir',
            work,
            '--cfg-options',
            f'load_from={crafted}',
        ],
        'train.py backbone Pretrained': [
            'tools/train.py',
            pretrained_config(tiny_run, crafted),
            '--work-dir',
            work,
        ],
    }


ENTRY_POINTS = [
    'test.py',
    'dist_test.sh',
    'image_demo.py',
    'benchmark.py',
    'mmdet2mmsolo.py',
    'solov2_zoo2mmsolo.py',
    'train.py --resume',
    'train.py load_from',
    'train.py backbone Pretrained',
]


@pytest.mark.parametrize('entry_point', ENTRY_POINTS)
def test_entry_point_refuses_crafted_checkpoint(
    entry_point, tiny_run, repo_root, python, tmp_path
):
    marker = tmp_path / 'code_ran'
    crafted = str(
        save_crafted_checkpoint(tmp_path / 'evil.pth', marker, 'meta')
    )
    command = entry_points(tiny_run, crafted)[entry_point]
    code, log = run_tool(repo_root, python, *command)
    assert code != 0, log[-3000:]
    assert not marker.exists()
    assert f'refused to load the checkpoint {crafted}' in log, log[-3000:]
    assert "'builtins.exec'" in log and '--unsafe-load' in log
    print(
        f'{entry_point}: exit {code}:',
        [line for line in log.splitlines() if 'refused' in line][-1][:160],
    )


def test_unsafe_load_flag_is_the_opt_in(tiny_run, repo_root, python, tmp_path):
    """With --unsafe-load the same crafted file is unpickled (its code
    runs): the flag is the one way to read a file that needs more."""
    marker = tmp_path / 'code_ran'
    crafted = str(
        save_crafted_checkpoint(tmp_path / 'evil.pth', marker, 'meta')
    )
    code, log = run_tool(
        repo_root,
        python,
        'tools/model_converters/mmdet2mmsolo.py',
        crafted,
        str(tmp_path / 'out.pth'),
        '--unsafe-load',
    )
    assert marker.exists()
    assert code == 0 and 'converted 1 keys (mmdet layout)' in log, log


def test_mmdet_apis_load_a_training_checkpoint(
    tiny_run, repo_root, python, tmp_path
):
    """mmdet's init_detector and DetInferencer (scope mmsolo) read the
    checkpoint tools/train.py wrote, and predict what tools/test.py
    predicts on the same images."""
    from mmdet.apis import DetInferencer, inference_detector, init_detector

    dump = tmp_path / 'preds.pkl'
    code, log = run_tool(
        repo_root,
        python,
        'tools/test.py',
        tiny_run['config'],
        tiny_run['checkpoint'],
        '--out',
        str(dump),
    )
    assert code == 0, log[-3000:]
    with open(dump, 'rb') as file:
        dumped = {
            osp.basename(result['img_path']): result
            for result in pickle.load(file)
        }

    image = osp.join(tiny_run['data'], 'val', '000001.png')
    model = init_detector(
        tiny_run['config'], tiny_run['checkpoint'], device='cpu'
    )
    assert model.dataset_meta['classes'] == ('circle', 'square', 'triangle')
    expected = dumped['000001.png']['pred_instances']
    got = inference_detector(model, image).pred_instances
    np.testing.assert_allclose(
        got.scores.numpy(), expected['scores'].numpy(), atol=1e-6
    )
    assert torch.equal(got.labels, expected['labels'])

    inferencer = DetInferencer(
        model=tiny_run['config'],
        weights=tiny_run['checkpoint'],
        device='cpu',
        scope='mmsolo',
        show_progress=False,
    )
    result = inferencer(image, return_datasamples=True)
    got = result['predictions'][0].pred_instances
    np.testing.assert_allclose(
        got.scores.numpy(), expected['scores'].numpy(), atol=1e-6
    )
    assert torch.equal(got.labels, expected['labels'])


def test_resume_of_old_checkpoint_needs_opt_in_or_upgrade(
    tiny_run, repo_root, python, tmp_path
):
    """A checkpoint of the earlier mmsolo (message hub as HistoryBuffer
    objects) is refused by default, and rewritten loadable by
    upgrade_checkpoint.py --unsafe-load; --resume of either continues."""
    from mmengine.logging import HistoryBuffer

    from mmsolo.checkpoint.plain_state import decode_message_hub

    checkpoint = torch.load(tiny_run['checkpoint'], weights_only=True)
    checkpoint['message_hub'] = decode_message_hub(checkpoint['message_hub'])
    assert isinstance(
        checkpoint['message_hub']['log_scalars']['train/loss'], HistoryBuffer
    )
    old = tmp_path / 'old_iter_2.pth'
    torch.save(checkpoint, old)
    with pytest.raises(pickle.UnpicklingError, match='HistoryBuffer'):
        torch.load(old, weights_only=True)

    new = tmp_path / 'new_iter_2.pth'
    command = [
        'tools/model_converters/upgrade_checkpoint.py',
        str(old),
        str(new),
    ]
    code, log = run_tool(repo_root, python, *command)
    assert code != 0 and '--unsafe-load' in log and not new.exists()
    code, log = run_tool(repo_root, python, *command, '--unsafe-load')
    assert code == 0, log[-3000:]
    assert 'loadable with weights_only=True' in log
    upgraded = torch.load(new, weights_only=True)
    for key, value in checkpoint['state_dict'].items():
        assert torch.equal(value, upgraded['state_dict'][key]), key
    buffer = decode_message_hub(upgraded['message_hub'])['log_scalars'][
        'train/loss'
    ]
    original = checkpoint['message_hub']['log_scalars']['train/loss']
    assert np.array_equal(buffer.data[0], original.data[0])
    assert buffer.data[0].dtype == original.data[0].dtype

    # The opt-in reads the old file as it is.
    from mmengine.runner.checkpoint import _load_checkpoint

    from mmsolo.checkpoint import (
        UnsafeCheckpointError,
        unsafe_checkpoint_loading,
    )

    with pytest.raises(UnsafeCheckpointError, match='upgrade_checkpoint.py'):
        _load_checkpoint(str(old), map_location='cpu')
    with unsafe_checkpoint_loading():
        loaded = _load_checkpoint(str(old), map_location='cpu')
    assert isinstance(
        loaded['message_hub']['log_scalars']['train/loss'], HistoryBuffer
    )

    work = tmp_path / 'resumed'
    code, log = run_tool(
        repo_root,
        python,
        'tools/train.py',
        tiny_run['config'],
        '--work-dir',
        str(work),
        '--resume',
        str(new),
        '--cfg-options',
        'train_cfg.max_iters=3',
    )
    assert code == 0, log[-3000:]
    assert 'resumed epoch: 0, iter: 2' in log
    assert 'Iter(train) [3/3]' in log
