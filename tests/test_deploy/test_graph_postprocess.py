"""The export-friendly post-processing against the head's, in eager
PyTorch, and its graph alone run by ONNX Runtime and OpenVINO on crafted
head outputs (no candidates in one image, none in a whole batch); the
graph's boxes of masks with stray pixels, in both box modes."""

import numpy as np
import pytest
import torch
from support import seeded_model
from torch import Tensor

from mmsolo.deploy import graph_postprocess
from mmsolo.deploy.export_model import SOLOv2Export
from mmsolo.deploy.graph_postprocess import OUTPUT_NAMES, graph_predict
from mmsolo.models.layers import MaskFeatures, masks_to_boxes
from .helpers import QUICKSTART_CONFIG


def head_outputs(model, batch: int, size: int, seed: int):
    """Random head outputs of a batch: some confident cells per image."""
    head = model.mask_head
    generator = torch.Generator().manual_seed(seed)
    kernels = [
        torch.randn(batch, head.kernel_out_channels, s, s, generator=generator)
        for s in head.num_grids
    ]
    cls = [
        torch.randn(batch, head.num_classes, s, s, generator=generator) * 2 - 3
        for s in head.num_grids
    ]
    feats = torch.randn(
        batch,
        head.mask_feat_channels,
        size // 4,
        size // 4,
        generator=generator,
    )
    return kernels, cls, feats


def eager_graph(model, kernels, cls, feats):
    wrapper = SOLOv2Export(model)
    out = graph_predict(
        kernels, cls, feats, wrapper.cell_strides, wrapper.spec
    )
    return out


def assert_masks_match(
    masks: Tensor, expected: Tensor, probs: Tensor, mask_thr: float
) -> bool:
    """The graph's masks (n, H, W) are the head's, but for pixels whose
    upsampled probability (``F.interpolate`` of the graph's (n, h, w)
    ``probs``) lies within float rounding of ``mask_thr``: the graph
    upsamples by two matrix products, PyTorch by its own kernel. Returns
    whether they are equal."""
    differ = masks != expected
    if not differ.any():
        return True
    full = torch.nn.functional.interpolate(
        probs[:, None].float(),
        size=masks.shape[-2:],
        mode='bilinear',
        align_corners=False,
    )[:, 0]
    near = (full[differ] - mask_thr).abs()
    assert near.max() <= 1e-6, f'mask pixels differ at {near.max():.2e}'
    assert differ.sum() <= 1e-5 * differ.numel()
    return False


def box_pixels_of(
    probs: Tensor, size: int, box_thr: float, graph: bool
) -> Tensor:
    """(n, size, size) pixels above box_thr of the upsampled (n, h, w)
    probabilities: by the graph's matrix products, or as the head does
    (``F.interpolate``)."""
    if graph:
        full = graph_postprocess.upsample_probs(probs, size // probs.shape[-1])
    else:
        full = torch.nn.functional.interpolate(
            probs[:, None].float(),
            size=(size, size),
            mode='bilinear',
            align_corners=False,
        )[:, 0]
    return full > box_thr


def check_against_head(model, kernels, cls, feats, size):
    metas = [dict(img_shape=(size, size), ori_shape=(size, size))] * len(feats)
    with torch.no_grad():
        ref = model.mask_head.predict_by_feat(
            kernels, cls, MaskFeatures.shared(feats), metas
        )
        out = eager_graph(model, kernels, cls, feats)
    test_cfg = model.mask_head.test_cfg
    box_thr = test_cfg.mask_box_thr
    assert out['counts'].tolist() == [len(r) for r in ref]
    start = 0
    for r in ref:
        rows = slice(start, start + len(r))
        start += len(r)
        assert torch.equal(out['labels'][rows], r.labels)
        torch.testing.assert_close(
            out['scores'][rows], r.scores, rtol=0, atol=1e-5
        )
        same_masks = assert_masks_match(
            out['masks'][rows],
            r.masks,
            out['mask_probs'][rows],
            test_cfg.mask_thr,
        )
        if box_thr is not None and len(r):
            # The box pixels, like the masks, may differ only within float
            # rounding of their threshold.
            same_masks &= assert_masks_match(
                box_pixels_of(out['mask_probs'][rows], size, box_thr, True),
                box_pixels_of(out['mask_probs'][rows], size, box_thr, False),
                out['mask_probs'][rows],
                box_thr,
            )
        if same_masks:
            assert torch.equal(out['boxes'][rows], r.bboxes)
    box_source = (
        out['masks']
        if box_thr is None
        else box_pixels_of(out['mask_probs'], size, box_thr, True)
    )
    assert torch.equal(
        out['boxes'],
        masks_to_boxes(
            box_source, test_cfg.mask_box, test_cfg.mask_box_min_part
        ),
    )
    return out


@pytest.mark.parametrize(
    'kernel,mask_box,box_thr',
    [
        ('gaussian', 'tight', None),
        ('linear', 'main_parts', None),
        ('gaussian', 'main_parts', None),
        ('gaussian', 'tight', 0.3),
        ('linear', 'main_parts', 0.3),
    ],
)
def test_eager_equals_head(kernel, mask_box, box_thr):
    model = seeded_model(
        QUICKSTART_CONFIG,
        channels_last=False,
        test_cfg=dict(kernel=kernel, mask_box=mask_box, mask_box_thr=box_thr),
    )
    kernels, cls, feats = head_outputs(model, 3, 128, seed=3)
    out = check_against_head(model, kernels, cls, feats, 128)
    if box_thr is not None:
        # A lower threshold than mask_thr: each box holds its mask's box.
        mask_boxes = masks_to_boxes(out['masks'])
        assert (out['boxes'][:, :2] <= mask_boxes[:, :2]).all()
        assert (out['boxes'][:, 2:] >= mask_boxes[:, 2:]).all()


def test_eager_nms_pre_and_empty_images():
    model = seeded_model(
        QUICKSTART_CONFIG,
        channels_last=False,
        test_cfg=dict(nms_pre=20, max_per_img=7),
    )
    kernels, cls, feats = head_outputs(model, 3, 128, seed=4)
    for level in cls:
        level[1] = -20  # image 1 has no candidate
    check_against_head(model, kernels, cls, feats, 128)
    out = eager_graph(model, kernels, cls, feats)
    assert out['counts'].tolist()[1] == 0
    for level in cls:
        level[:] = -20
    check_against_head(model, kernels, cls, feats, 128)


class PostprocessOnly(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.wrapper = SOLOv2Export(model)
        self.levels = len(model.mask_head.num_grids)

    def forward(self, *tensors):
        n = self.levels
        out = graph_predict(
            tensors[:n],
            tensors[n : 2 * n],
            tensors[2 * n],
            self.wrapper.cell_strides,
            self.wrapper.spec,
        )
        return tuple(out[name] for name in OUTPUT_NAMES)


@pytest.fixture(scope='module')
def postprocess_onnx(tmp_path_factory):
    model = seeded_model(
        QUICKSTART_CONFIG, channels_last=False, test_cfg=dict(kernel='linear')
    )
    module = PostprocessOnly(model).eval()
    inputs = head_outputs(model, 2, 128, seed=5)
    flat = (*inputs[0], *inputs[1], inputs[2])
    batch = torch.export.Dim('batch', min=1, max=8)
    path = str(tmp_path_factory.mktemp('post') / 'post.onnx')
    with torch.no_grad():
        torch.onnx.export(
            module,
            flat,
            path,
            dynamic_shapes=(tuple([{0: batch}] * len(flat)),),
            dynamo=True,
            verbose=False,
        )
    return model, module, path


@pytest.mark.parametrize('backend', ['onnxruntime', 'openvino'])
def test_postprocess_graph_no_candidates(postprocess_onnx, backend):
    model, module, path = postprocess_onnx
    kernels, cls, feats = head_outputs(model, 3, 128, seed=6)
    for level in cls:
        level[0] = -20
    flat = (*kernels, *cls, feats)
    run = _runner(backend, path, len(flat))
    for case in ('first image empty', 'all empty'):
        if case == 'all empty':
            for level in cls:
                level[:] = -20
            flat = (*kernels, *cls, feats)
        with torch.no_grad():
            expected = module(*flat)
        got = run([t.numpy() for t in flat])
        assert got[5].tolist() == expected[5].tolist(), case
        assert got[2].shape == tuple(expected[2].shape), case
        np.testing.assert_array_equal(got[1], expected[1].numpy())
        np.testing.assert_allclose(got[0], expected[0].numpy(), atol=1e-5)
        np.testing.assert_array_equal(got[3], expected[3].numpy())


def _runner(backend, path, num_inputs):
    if backend == 'onnxruntime':
        import onnxruntime as ort

        session = ort.InferenceSession(
            path, providers=['CPUExecutionProvider']
        )
        names = [i.name for i in session.get_inputs()]
        return lambda arrays: session.run(None, dict(zip(names, arrays)))
    import openvino as ov

    compiled = ov.Core().compile_model(
        path, 'CPU', {'INFERENCE_PRECISION_HINT': 'f32'}
    )
    return lambda arrays: [np.asarray(v) for v in compiled(arrays).values()]


def stray_masks(num: int, height: int, width: int, seed: int) -> Tensor:
    """(num, H, W) float 0/1 masks: a block each, stray pixels and blobs
    around it, one mask in two big pieces and one empty."""
    g = torch.Generator().manual_seed(seed)
    masks = (torch.rand(num, height, width, generator=g) > 0.998).float()
    # Masks 0 and 1: the strays are cut off from the block by empty rows
    # and columns (a stray next to a block row or column would widen its
    # run of the projection).
    masks[:2, 5:35] = 0.0
    masks[:2, :, 5:47] = 0.0
    masks[:, 10:30, 12:40] = 1.0
    masks[0, :, 20:24] = 0.0  # two pieces, columns 12..19 and 24..39
    masks[1, 50:54, 55:60] = 1.0  # a blob diagonal to the block
    masks[2] = 0.0
    return masks


class BoxesOnly(torch.nn.Module):
    """The boxes of thresholded masks (n, H, W) (the graph's function);
    with ``from_probs``, tight boxes from the probabilities' maxima."""

    def __init__(
        self, mask_box: str, min_part: float, from_probs: bool = False
    ):
        super().__init__()
        self.mask_box, self.min_part = mask_box, min_part
        self.from_probs = from_probs

    def forward(self, masks: Tensor) -> Tensor:
        return masks_to_boxes(
            masks > 0.5,
            self.mask_box,
            self.min_part,
            masks if self.from_probs else None,
            0.5,
        )


def test_tight_boxes_from_probs_equal_masks():
    """The maxima of the probabilities give the boxes of their masks,
    also where probabilities sit exactly at the threshold."""
    torch.manual_seed(0)
    probs = torch.rand(6, 40, 50) * 0.6
    probs[1] = 0.5  # at the threshold: empty mask
    probs[2, 7, 9] = 0.5000001
    probs[3, 30:35, 2:4] = 0.9
    for probs_in in (probs, torch.zeros(0, 40, 50)):
        from_probs = BoxesOnly('tight', 0.1, True)(probs_in)
        assert torch.equal(from_probs, masks_to_boxes(probs_in > 0.5))
        assert torch.equal(from_probs, BoxesOnly('tight', 0.1)(probs_in))
    assert from_probs.shape == (0, 4)


@pytest.mark.parametrize(
    'mask_box,min_part,from_probs',
    [
        ('tight', 0.1, False),
        ('tight', 0.1, True),
        ('main_parts', 0.1, False),
        ('main_parts', 1.0, False),
    ],
)
def test_exported_boxes_equal_pytorchs(
    tmp_path, mask_box, min_part, from_probs
):
    """Exported with a dynamic number and size of masks, run by ONNX
    Runtime and OpenVINO on other numbers and sizes: the boxes of
    :func:`mmsolo.models.layers.masks_to_boxes`, exactly."""
    module = BoxesOnly(mask_box, min_part, from_probs).eval()
    dims = {
        0: torch.export.Dim('n', min=1, max=128),
        1: torch.export.Dim('h', min=2, max=2048),
        2: torch.export.Dim('w', min=2, max=2048),
    }
    path = str(tmp_path / 'boxes.onnx')
    with torch.no_grad():
        torch.onnx.export(
            module,
            (stray_masks(4, 64, 72, seed=0),),
            path,
            dynamic_shapes=(dims,),
            dynamo=True,
            verbose=False,
        )
    for backend in ('onnxruntime', 'openvino'):
        run = _runner(backend, path, 1)
        for num, height, width in ((5, 64, 72), (3, 80, 96)):
            masks = stray_masks(num, height, width, seed=num)
            expected = masks_to_boxes(masks > 0.5, mask_box, min_part)
            assert torch.equal(module(masks), expected)
            np.testing.assert_array_equal(
                run([masks.numpy()])[0], expected.numpy(), err_msg=backend
            )
    if mask_box == 'main_parts':
        # Mask 0's pieces hold 160 and 320 pixels: 0.1 keeps both, 1.0
        # (the quick start's) only the larger one.
        both = [12, 10, 40, 30] if min_part <= 0.5 else [24, 10, 40, 30]
        assert expected[0].tolist() == both
        assert expected[1].tolist() == [12, 10, 40, 30]  # no blob
