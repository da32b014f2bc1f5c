"""The deployment tools end to end on a seeded quick-start model and a tiny
generated val split: pytorch2onnx.py (normalisation in the graph),
tools/test.py --backend (COCO AP equal to PyTorch's), onnx_infer.py and
benchmark.py --backend."""

import os
import re
import subprocess

import pytest
import torch
from support import seeded_model

from mmsolo.datasets import write_split
from .helpers import QUICKSTART_CONFIG

CONFIG_TEMPLATE = """
_base_ = '{base}'
data_root = '{data}/'
val_dataloader = dict(
    batch_size=2, num_workers=0,
    dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val.json')
test_evaluator = val_evaluator
"""


@pytest.fixture(scope='module')
def exported(tmp_path_factory, repo_root, python):
    """A seeded quick-start checkpoint, its config on 4 generated val
    images, and its graph from pytorch2onnx.py."""
    root = tmp_path_factory.mktemp('deploy_tools')
    write_split(str(root / 'data'), 'val', num_images=4, seed=11)
    config = root / 'shapes.py'
    config.write_text(
        CONFIG_TEMPLATE.format(base=QUICKSTART_CONFIG, data=root / 'data')
    )
    model = seeded_model(
        QUICKSTART_CONFIG, class_bias_mean=-1.0, channels_last=False
    )
    checkpoint = root / 'seeded.pth'
    torch.save(dict(state_dict=model.state_dict(), meta={}), checkpoint)
    onnx_file = root / 'quick.onnx'
    done = run_tool(
        python,
        repo_root,
        'tools/deployment/pytorch2onnx.py',
        str(config),
        str(checkpoint),
        '--out',
        str(onnx_file),
        '--shape',
        '256',
        '256',
        '--dynamic-batch',
        '--with-normalize',
        '--simplify',
    )
    assert 'exported' in done.stdout
    return root, config, checkpoint, onnx_file


def run_tool(python, repo_root, *args, timeout=600):
    # The tools import mmsolo from this tree (a script's sys.path[0] is its
    # own folder, not the working directory).
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(
            filter(None, [repo_root, os.environ.get('PYTHONPATH')])
        ),
    )
    done = subprocess.run(
        [python, *args],
        cwd=repo_root,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    return done


def segm_map(log: str) -> float:
    found = re.findall(r'coco/segm_mAP: ([0-9.]+)', log)
    assert found, log[-2000:]
    return float(found[-1])


def test_coco_ap_matches_pytorch(exported, repo_root, python):
    root, config, checkpoint, onnx_file = exported
    pytorch = run_tool(
        python,
        repo_root,
        'tools/test.py',
        str(config),
        str(checkpoint),
        '--work-dir',
        str(root / 'w_pt'),
    )
    ort = run_tool(
        python,
        repo_root,
        'tools/test.py',
        str(config),
        str(onnx_file),
        '--backend',
        'onnxruntime',
        '--work-dir',
        str(root / 'w_ort'),
    )
    ap_pytorch = segm_map(pytorch.stdout + pytorch.stderr)
    ap_ort = segm_map(ort.stdout + ort.stderr)
    print(f'segm mAP: PyTorch {ap_pytorch}, ONNX Runtime {ap_ort}')
    assert abs(ap_pytorch - ap_ort) <= 0.001  # 0.1 AP


def test_onnx_infer_draws(exported, repo_root, python):
    root, config, _, onnx_file = exported
    out_file = root / 'drawn.png'
    done = run_tool(
        python,
        repo_root,
        'tools/deployment/onnx_infer.py',
        str(root / 'data' / 'val' / '000001.png'),
        str(onnx_file),
        '--config',
        str(config),
        '--backend',
        'openvino',
        '--out-file',
        str(out_file),
        '--score-thr',
        '0.2',
    )
    assert 'instances predicted by openvino' in done.stdout
    assert out_file.stat().st_size > 1000


def test_benchmark_backend(exported, repo_root, python):
    _, config, _, onnx_file = exported
    done = run_tool(
        python,
        repo_root,
        'tools/analysis_tools/benchmark.py',
        str(config),
        str(onnx_file),
        '--backend',
        'onnxruntime',
        '--synthetic',
        '--shape',
        '256',
        '256',
        '--max-iter',
        '2',
        '--num-warmup',
        '1',
        '--log-interval',
        '1',
    )
    assert 'Overall fps' in done.stdout + done.stderr
