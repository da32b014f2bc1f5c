"""The panoptic quick-start model exported (instances and semantic logits
in the graph, fusion on the host) against PyTorch's panoptic maps."""

import copy

import pytest
import torch
from support import mmsolo_config_path, seeded_model
from support.parity import compare_samples

from mmsolo.deploy import DeployedSOLOv2, export_onnx
from mmsolo.testing import demo_batch
from .helpers import data_preprocessor_cfg

PANOPTIC_CONFIG = mmsolo_config_path(
    'quickstart/solov2-panoptic_r18_fpn_shapes-panoptic.py'
)


@pytest.fixture(scope='module')
def panoptic(tmp_path_factory):
    model = seeded_model(
        PANOPTIC_CONFIG,
        class_bias_mean=1.0,
        kernel_scale=20,
        channels_last=False,
    )
    path = str(tmp_path_factory.mktemp('panoptic') / 'panoptic.onnx')
    export_onnx(model, path, (256, 256), pad_divisor=64)
    return model, path


@pytest.mark.parametrize('backend', ['onnxruntime', 'openvino'])
def test_panoptic_maps_match(panoptic, backend):
    model, path = panoptic
    runner = DeployedSOLOv2(
        path, backend, data_preprocessor_cfg(PANOPTIC_CONFIG)
    )
    inputs, samples = demo_batch([(256, 256)], pad_divisor=64, seed=1)
    with torch.no_grad():
        expected = model.predict(inputs, copy.deepcopy(samples))
    got = runner.predict(inputs, copy.deepcopy(samples))
    stats = compare_samples(expected, got)
    assert stats['instances'] > 0 and stats['min_mask_iou'] >= 0.99
    ref_map = expected[0].pred_panoptic_seg.sem_seg
    got_map = got[0].pred_panoptic_seg.sem_seg
    things = int((ref_map.unique() >= 1000).sum())
    agree = (ref_map == got_map).float().mean().item()
    print(
        backend, stats, f'panoptic pixels equal {agree:.5f}, {things} things'
    )
    assert things > 0
    assert agree >= 0.99
