"""Export a built SOLOv2 detector to ONNX with torch's dynamo-based
exporter (``torch.onnx.export(..., dynamo=True)``, torch 2.13's default)."""

import json
from typing import Optional, Sequence, Tuple

import torch
import torch.nn as nn

from .export_model import SOLOv2Export

INPUT_NAME = 'input'
METADATA_KEY = 'mmsolo'


def export_dynamic_shapes(
    pad_divisor: int, dynamic_shape: bool, dynamic_batch: bool
) -> Optional[dict]:
    """``dynamic_shapes`` of the input: H and W multiples of
    ``pad_divisor`` and/or any batch size; None for a static graph."""
    if not (dynamic_shape or dynamic_batch):
        return None
    dims = {}
    if dynamic_batch:
        dims[0] = torch.export.Dim('batch', min=1, max=64)
    if dynamic_shape:
        dims[2] = pad_divisor * torch.export.Dim('h_blocks', min=1, max=256)
        dims[3] = pad_divisor * torch.export.Dim('w_blocks', min=1, max=256)
    return {'images': dims}


def deploy_metadata(
    model: SOLOv2Export,
    shape: Tuple[int, int, int],
    pad_divisor: int,
    dynamic_shape: bool,
    dynamic_batch: bool,
    normalize: Optional[tuple],
) -> dict:
    """What a runner needs to feed the graph and read its outputs."""
    return dict(
        input_shape=list(shape),
        pad_size_divisor=pad_divisor,
        dynamic_shape=dynamic_shape,
        dynamic_batch=dynamic_batch,
        with_normalize=normalize is not None,
        mean=None if normalize is None else list(normalize[0]),
        std=None if normalize is None else list(normalize[1]),
        bgr_to_rgb=None if normalize is None else bool(normalize[2]),
        test_cfg=dict(model.spec),
        outputs=list(model.output_names),
        panoptic=panoptic_metadata(model.detector) if model.panoptic else None,
    )


def panoptic_metadata(detector: nn.Module) -> dict:
    """What the host fusion of a ``PanopticSOLOv2`` needs: the semantic
    head's stride and class numbers, ``test_cfg.panoptic`` and the fusion
    head's config."""
    head = detector.semantic_head
    fusion = detector.panoptic_fusion_head
    return dict(
        seg_stride=head.seg_stride,
        num_things_classes=head.num_things_classes,
        num_stuff_classes=head.num_stuff_classes,
        panoptic_cfg=dict(detector.test_cfg['panoptic']),
        fusion_type=type(fusion).__name__,
    )


def export_onnx(
    detector: nn.Module,
    out_file: str,
    shape: Tuple[int, int],
    batch_size: int = 1,
    pad_divisor: int = 32,
    dynamic_shape: bool = False,
    dynamic_batch: bool = False,
    opset: int = 18,
    normalize: Optional[Tuple[Sequence[float], Sequence[float], bool]] = None,
    simplify: bool = False,
) -> str:
    """Export ``detector`` (eval mode, CPU) and return ``out_file``.

    Args:
        detector (nn.Module): A built ``SOLOv2`` detector.
        out_file (str): The ``.onnx`` file to write.
        shape (tuple): (H, W) of the traced input, multiples of
            ``pad_divisor``; the input size of a static graph.
        batch_size (int): Batch of the traced input (of a static graph).
        pad_divisor (int): H and W of a dynamic graph are multiples of it.
        dynamic_shape (bool): Any H and W (multiples of ``pad_divisor``).
        dynamic_batch (bool): Any batch size.
        opset (int): ONNX opset.
        normalize (tuple, optional): ``(mean, std, bgr_to_rgb)`` done in the
            graph (see :class:`SOLOv2Export`).
        simplify (bool): Run onnxslim on the exported graph.
    """
    if shape[0] % pad_divisor or shape[1] % pad_divisor:
        raise ValueError(
            f'--shape {shape[0]} {shape[1]} must be multiples of '
            f'the pad divisor {pad_divisor}'
        )
    model = SOLOv2Export(detector.eval(), normalize).eval()
    # A traced size of 1 would be specialised: trace a dynamic batch with 2.
    traced_batch = max(batch_size, 2) if dynamic_batch else batch_size
    images = torch.zeros(traced_batch, 3, *shape)
    with torch.no_grad():
        program = torch.onnx.export(
            model,
            (images,),
            input_names=[INPUT_NAME],
            output_names=list(model.output_names),
            dynamic_shapes=export_dynamic_shapes(
                pad_divisor, dynamic_shape, dynamic_batch
            ),
            opset_version=opset,
            dynamo=True,
        )
    import onnx

    proto = program.model_proto
    if simplify:
        import onnxslim

        proto = onnxslim.slim(proto)
    meta = deploy_metadata(
        model,
        (batch_size, *shape),
        pad_divisor,
        dynamic_shape,
        dynamic_batch,
        normalize,
    )
    entry = proto.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, json.dumps(meta)
    onnx.save(proto, out_file)
    return out_file
