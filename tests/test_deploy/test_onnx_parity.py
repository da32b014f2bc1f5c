"""Exported SOLOv2 graphs (the whole model, post-processing included) run
by ONNX Runtime and OpenVINO against PyTorch's ``model.predict`` on the
same images: labels equal, every mask IoU >= 0.99, scores within 1e-4.

Where the two sides' kernels differ in the last bits (another CPU, another
thread count), a mask probability within rounding of ``mask_thr`` may flip:
the Matrix NMS of that class then decays its scores by slightly other IoUs,
so there they agree within a relative 2e-3, and an instance whose score is
within that of ``filter_thr`` or of the ``max_per_img`` cut may be on one
side only (the rule in ``tests/support/parity.py``)."""

import copy

import pytest
import torch
from support import seeded_model
from support.parity import compare_samples

from mmsolo.deploy import DeployedSOLOv2, export_onnx
from mmsolo.models.layers import flat_cells, point_nms
from mmsolo.testing import demo_batch
from .helpers import QUICKSTART_CONFIG, R50_CONFIG, data_preprocessor_cfg

BACKENDS = ('onnxruntime', 'openvino')
SCORE_TOL = 1e-4
DECAYED_REL_TOL = 2e-3
MIN_IOU = 0.99


@pytest.fixture(scope='module')
def quickstart(tmp_path_factory):
    """The quick-start model (seeded, ~100 detections per image) exported
    once with a dynamic batch and input size; a runner per backend."""
    model = seeded_model(
        QUICKSTART_CONFIG, class_bias_mean=-1.0, channels_last=False
    )
    path = str(tmp_path_factory.mktemp('quick') / 'quick.onnx')
    export_onnx(
        model,
        path,
        (256, 256),
        pad_divisor=64,
        dynamic_shape=True,
        dynamic_batch=True,
    )
    runners = {
        backend: DeployedSOLOv2(
            path, backend, data_preprocessor_cfg(QUICKSTART_CONFIG)
        )
        for backend in BACKENDS
    }
    return model, runners


@pytest.fixture(scope='module')
def r50(tmp_path_factory):
    """SOLOv2-R50 (seeded, hundreds of candidates, confident masks)
    exported once, static 1 x 3 x 256 x 320."""
    model = seeded_model(
        R50_CONFIG, class_bias_mean=-5.5, kernel_scale=20, channels_last=False
    )
    path = str(tmp_path_factory.mktemp('r50') / 'r50.onnx')
    export_onnx(model, path, (256, 320), pad_divisor=32)
    runners = {
        backend: DeployedSOLOv2(
            path, backend, data_preprocessor_cfg(R50_CONFIG)
        )
        for backend in BACKENDS
    }
    return model, runners


def check_parity(model, runner, inputs, samples, min_instances=1):
    with torch.no_grad():
        expected = model.predict(inputs, copy.deepcopy(samples))
    got = runner.predict(inputs, copy.deepcopy(samples))
    test_cfg = model.mask_head.test_cfg
    stats = compare_samples(
        expected,
        got,
        SCORE_TOL,
        decay_rel_tol=DECAYED_REL_TOL,
        filter_thr=test_cfg.filter_thr,
        max_per_img=test_cfg.max_per_img,
    )
    print(runner.backend_name, stats)
    assert stats['instances'] >= min_instances
    assert stats['max_score_diff'] <= SCORE_TOL
    assert stats['min_mask_iou'] >= MIN_IOU
    return stats, got


@pytest.mark.parametrize('backend', BACKENDS)
def test_quickstart_one_image(quickstart, backend):
    model, runners = quickstart
    inputs, samples = demo_batch([(256, 256)], pad_divisor=64, seed=1)
    stats, _ = check_parity(model, runners[backend], inputs, samples, 50)
    assert stats['max_box_diff'] <= 1.0


@pytest.mark.parametrize('backend', BACKENDS)
def test_quickstart_batch_of_three(quickstart, backend):
    """Three images of different content and sizes at one padded size,
    one rescaled to a larger original size."""
    model, runners = quickstart
    inputs, samples = demo_batch(
        [(256, 256), (200, 240), (128, 192)],
        ori_shapes=[(256, 256), (200, 240), (256, 384)],
        pad_divisor=64,
        seed=2,
    )
    assert inputs.shape[-2:] == (256, 256)
    _, got = check_parity(model, runners[backend], inputs, samples, 150)
    assert [len(s.pred_instances) for s in got] == [100, 100, 100]
    assert got[2].pred_instances.masks.shape[-2:] == (256, 384)


@pytest.mark.parametrize('backend', BACKENDS)
def test_quickstart_dynamic_sizes(quickstart, backend):
    model, runners = quickstart
    for shape in ((192, 320), (128, 128)):
        inputs, samples = demo_batch([shape], pad_divisor=64, seed=3)
        check_parity(model, runners[backend], inputs, samples, 10)


@pytest.mark.parametrize('backend', BACKENDS)
def test_r50_hundreds_of_candidates(r50, backend):
    model, runners = r50
    inputs, samples = demo_batch([(256, 320)], pad_divisor=32, seed=0)
    assert num_candidates(model, inputs) >= 200
    check_parity(model, runners[backend], inputs, samples, 50)


def num_candidates(model, inputs) -> int:
    """(cell, class) pairs above score_thr (those reaching the masks)."""
    with torch.no_grad():
        _, cls = model.mask_head(model.extract_feat(inputs))
        scores = flat_cells([point_nms(level.sigmoid()) for level in cls])
    return int((scores > model.mask_head.test_cfg.score_thr).sum())


@pytest.fixture(scope='module')
def no_candidates(tmp_path_factory):
    """A model whose every score stays below score_thr, exported once
    (a small static graph)."""
    model = seeded_model(QUICKSTART_CONFIG, channels_last=False)
    with torch.no_grad():
        model.mask_head.conv_cls.bias.fill_(-30.0)
    path = str(tmp_path_factory.mktemp('empty') / 'empty.onnx')
    export_onnx(model, path, (128, 128), pad_divisor=64)
    return model, path


@pytest.mark.parametrize('backend', BACKENDS)
def test_no_candidates(no_candidates, backend):
    """No rows at all, as PyTorch."""
    model, path = no_candidates
    runner = DeployedSOLOv2(
        path, backend, data_preprocessor_cfg(QUICKSTART_CONFIG)
    )
    inputs, samples = demo_batch([(128, 128)], pad_divisor=64, seed=5)
    check_parity(model, runner, inputs, samples, min_instances=0)
    got = runner.predict(inputs, copy.deepcopy(samples))
    instances = got[0].pred_instances
    assert len(instances) == 0
    assert instances.masks.shape == (0, 128, 128)
    assert instances.bboxes.shape == (0, 4)
