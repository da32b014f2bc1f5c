"""INT8 post-training quantization of an exported SOLOv2 graph
(``tools/deployment/quantize.py``): the network (backbone, FPN, mask-feature
neck, head) quantized to INT8, the post-processing of
:mod:`.graph_postprocess` kept in float32.

Why the post-processing stays float: it thresholds probabilities
(``score_thr``, ``mask_thr``), multiplies masks with their probabilities
(maskness), computes mask IoUs and the Matrix NMS decay, and upsamples the
kept masks; 8-bit values would move scores and flip mask pixels there, for
no speed (its matrix products are a small part of the time, and most of its
operations have no INT8 kernel).

How its nodes are told apart in the exported graph: the post-processing
starts at the head's outputs (category logits, dynamic kernels) and the
mask-feature neck's output, the network's last convolution, normalisation
or ReLU layers. So the network is every node from which such a layer node
can be reached (these layers included); every other node is
post-processing (:func:`postprocess_nodes` for ONNX,
:func:`postprocess_ops` for OpenVINO). The rule reads only the graph's
structure: it holds for a graph simplified by onnxslim too, which drops the
exporter's module-scope metadata. ``tests/test_deploy/test_quantize.py``
checks it against that metadata on an unsimplified export.

Backends:

* ONNX Runtime: ``onnxruntime.quantization.quantize_static``, QDQ format,
  uint8 activations and per-channel int8 weights, the convolutions
  quantized (:data:`ORT_OP_TYPES`), the post-processing nodes in
  ``nodes_to_exclude``. The quantizer still puts a
  QuantizeLinear/DequantizeLinear pair on every output of a quantized node,
  including the network's outputs that only the post-processing reads;
  those post-processing inputs are then given the float tensor the pair
  quantized (:func:`float_postprocessing_inputs`), and the pairs nobody
  reads any more are removed. The result is an ``.onnx`` file.
* OpenVINO: NNCF's ``nncf.quantize`` on the graph read by OpenVINO, the
  post-processing operations in its ``ignored_scope``, saved as an IR
  (``.xml`` and ``.bin``) with int8 weights.

Both are calibrated (min/max of every quantized tensor) on images prepared
as the deployed model prepares them (:func:`calibration_batches`: the
config's pipeline, then :class:`~.deployed_model.DeployedSOLOv2`'s data
preprocessor and ``graph_inputs``), and keep the export's ``mmsolo``
metadata, with an ``int8`` entry added, so that ``DeployedSOLOv2``,
``tools/test.py --backend`` and ``tools/analysis_tools/benchmark.py
--backend`` run them as they run the float graph.
"""

import copy
import json
import logging
import os
import os.path as osp
import shutil
import tempfile
from contextlib import contextmanager
from typing import Callable, Dict, Iterable, List, Optional, Set

import numpy as np
from mmengine.config import Config
from mmengine.dataset import pseudo_collate

from mmsolo.fileio import write_atomically
from mmsolo.registry import DATASETS
from .export import INPUT_NAME, METADATA_KEY

# The file each backend's quantized model is written as.
QUANTIZED_SUFFIXES = {'onnxruntime': '.onnx', 'openvino': '.xml'}
# The layers that end the network (see the module docstring): the network
# is every node from which one of them can be reached.
ONNX_NETWORK_LAYERS = (
    'Conv',
    'ConvTranspose',
    'BatchNormalization',
    'InstanceNormalization',
    'GroupNormalization',
    'Relu',
)
OPENVINO_NETWORK_LAYERS = (
    'Convolution',
    'GroupConvolution',
    'ConvolutionBackpropData',
    'BatchNormInference',
    'MVN',
    'GroupNormalization',
    'Relu',
)
QDQ_OP_TYPES = ('QuantizeLinear', 'DequantizeLinear')
# The operations ONNX Runtime quantizes: the convolutions, which hold the
# network's time. Between them (normalisations, activations, sums) ONNX
# Runtime has few INT8 kernels, and every listed op type is also calibrated
# where the post-processing uses it (``nodes_to_exclude`` does not stop the
# calibration), its large mask tensors included.
ORT_OP_TYPES = ('Conv',)
# OpenVINO operations that hold no computation of the graph's own.
OPENVINO_NON_OPS = ('Constant', 'Parameter', 'Result')
IMAGE_EXTENSIONS = ('.bmp', '.jpeg', '.jpg', '.png', '.tif', '.tiff', '.webp')


def layer_ancestors(
    layers: Iterable[str], producers: Callable[[str], Iterable[str]]
) -> Set[str]:
    """The nodes from which a node of ``layers`` can be reached, those
    included (``producers(name)``: the nodes whose outputs ``name``
    reads)."""
    found: Set[str] = set()
    stack = list(layers)
    while stack:
        name = stack.pop()
        if name not in found:
            found.add(name)
            stack.extend(producers(name))
    return found


def postprocess_nodes(proto) -> List[str]:
    """Names of the post-processing nodes of an exported ONNX graph (an
    ``onnx.ModelProto``), in graph order: the nodes from which no network
    layer (:data:`ONNX_NETWORK_LAYERS`) can be reached."""
    nodes = list(proto.graph.node)
    producer_of = {out: node.name for node in nodes for out in node.output}
    inputs = {node.name: node.input for node in nodes}

    def producers(name: str) -> List[str]:
        return [producer_of[i] for i in inputs[name] if i in producer_of]

    network = layer_ancestors(
        (node.name for node in nodes if node.op_type in ONNX_NETWORK_LAYERS),
        producers,
    )
    return [node.name for node in nodes if node.name not in network]


def postprocess_ops(model) -> List[str]:
    """Friendly names of the post-processing operations of an
    ``openvino.Model`` read from an exported graph (constants, parameters
    and results left out): the operations from which no network layer
    (:data:`OPENVINO_NETWORK_LAYERS`) can be reached."""
    ops = {op.get_friendly_name(): op for op in model.get_ordered_ops()}
    network = layer_ancestors(
        (
            name
            for name, op in ops.items()
            if op.get_type_name() in OPENVINO_NETWORK_LAYERS
        ),
        lambda name: [
            value.get_node().get_friendly_name()
            for value in ops[name].input_values()
        ],
    )
    return [
        name
        for name, op in ops.items()
        if name not in network and op.get_type_name() not in OPENVINO_NON_OPS
    ]


def load_float_graph(model_file: str):
    """The float ``onnx.ModelProto`` of ``model_file`` and its ``mmsolo``
    metadata.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not an ONNX file, no ``mmsolo`` metadata (not from
            ``tools/deployment/pytorch2onnx.py``), or already quantized.
    """
    import onnx

    if not osp.isfile(model_file):
        raise FileNotFoundError(f'{model_file}: no such file')
    try:
        proto = onnx.load(model_file)
    except Exception as error:  # protobuf's DecodeError and others
        raise ValueError(
            f'{model_file} is not an ONNX model ({type(error).__name__}: '
            f'{error}); give the .onnx file of '
            'tools/deployment/pytorch2onnx.py'
        ) from None
    entries = {e.key: e.value for e in proto.metadata_props}
    if METADATA_KEY not in entries:
        raise ValueError(
            f'{model_file} has no "{METADATA_KEY}" metadata: export it with '
            'tools/deployment/pytorch2onnx.py'
        )
    if any(node.op_type in QDQ_OP_TYPES for node in proto.graph.node):
        raise ValueError(
            f'{model_file} is already quantized (it has QuantizeLinear / '
            'DequantizeLinear nodes); give the float graph of '
            'tools/deployment/pytorch2onnx.py'
        )
    return proto, json.loads(entries[METADATA_KEY])


def image_files(calib_dir: str) -> List[str]:
    """The images (by extension, :data:`IMAGE_EXTENSIONS`) directly in
    ``calib_dir``, sorted by name.

    Raises:
        FileNotFoundError: ``calib_dir`` is not a folder.
        ValueError: it holds no image.
    """
    if not osp.isdir(calib_dir):
        raise FileNotFoundError(f'--calib-dir {calib_dir}: no such folder')
    files = sorted(
        osp.join(calib_dir, name)
        for name in os.listdir(calib_dir)
        if name.lower().endswith(IMAGE_EXTENSIONS)
        and osp.isfile(osp.join(calib_dir, name))
    )
    if not files:
        raise ValueError(
            f'--calib-dir {calib_dir} holds no image (looked for '
            f'{", ".join(IMAGE_EXTENSIONS)})'
        )
    return files


def calibration_samples(
    cfg: Config, num_images: int, calib_dir: Optional[str] = None
) -> List[dict]:
    """The first ``num_images`` images of the config's val dataset (its
    test dataset if it has no val one), or of the images in ``calib_dir``,
    through the config's pipeline (without annotations for a folder):
    ``dict(inputs, data_samples)`` each.

    Raises:
        ValueError: the dataset or folder holds no image.
    """
    from .inference import image_pipeline

    if calib_dir is not None:
        pipeline = image_pipeline(cfg)
        samples = []
        for index, path in enumerate(image_files(calib_dir)[:num_images]):
            try:
                samples.append(pipeline(dict(img_path=path, img_id=index)))
            except Exception as error:  # unreadable image, and the like
                raise ValueError(
                    f'calibration image {path}: {type(error).__name__}: '
                    f'{error}'
                ) from None
        return samples
    loader = cfg.get('val_dataloader') or cfg.get('test_dataloader')
    if not loader:
        raise ValueError(
            'the config has no val_dataloader or test_dataloader to take '
            'calibration images from; give --calib-dir'
        )
    dataset = DATASETS.build(copy.deepcopy(loader['dataset']))
    if len(dataset) == 0:
        raise ValueError(
            f'the calibration dataset ({dataset.ann_file}) holds no image; '
            'give --calib-dir'
        )
    return [dataset[index] for index in range(min(num_images, len(dataset)))]


def calibration_batches(
    cfg: Config, model_file: str, samples: List[dict]
) -> List[np.ndarray]:
    """The graph inputs of ``samples`` (from :func:`calibration_samples`):
    float32 (B, 3, H, W) arrays as :class:`~.deployed_model.DeployedSOLOv2`
    feeds ``model_file`` (its data preprocessor, then ``graph_inputs``:
    normalised, or not if the graph normalises, padded to the graph's
    size). B is the graph's batch size (1 for a dynamic batch); the last
    batch is completed with the first images of the list."""
    import torch

    from .inference import build_deployed_model

    model = build_deployed_model(cfg, model_file, 'onnxruntime', 1)
    meta = model.meta
    size = 1 if meta['dynamic_batch'] else meta['input_shape'][0]
    batches = []
    for start in range(0, len(samples), size):
        chunk = [samples[(start + k) % len(samples)] for k in range(size)]
        with torch.no_grad():
            data = model.data_preprocessor(pseudo_collate(chunk), False)
            inputs = model.graph_inputs(data['inputs'], data['data_samples'])
        batches.append(inputs.numpy())
    return batches


def float_postprocessing_inputs(proto, postprocess: Iterable[str]) -> int:
    """Make every input of a post-processing node that a DequantizeLinear
    gives read the float tensor its QuantizeLinear quantized, then remove
    the QuantizeLinear/DequantizeLinear nodes and initializers nobody reads
    any more. Changes ``proto`` in place; returns the inputs changed."""
    graph = proto.graph
    producer = {out: node for node in graph.node for out in node.output}
    float_source = {}
    for node in graph.node:
        source = producer.get(node.input[0]) if node.input else None
        if node.op_type == 'DequantizeLinear' and (
            source is not None and source.op_type == 'QuantizeLinear'
        ):
            float_source[node.output[0]] = source.input[0]
    postprocess = set(postprocess)
    changed = 0
    for node in graph.node:
        if node.name not in postprocess:
            continue
        for index, name in enumerate(node.input):
            if name in float_source:
                node.input[index] = float_source[name]
                changed += 1
    remove_unread_qdq(graph)
    return changed


def remove_unread_qdq(graph) -> None:
    """Remove QuantizeLinear/DequantizeLinear nodes whose outputs nobody
    reads (repeatedly: a Q feeding only such a DQ goes too), then the
    initializers nobody reads."""
    while True:
        read = {name for node in graph.node for name in node.input}
        read |= {out.name for out in graph.output}
        unread = [
            node
            for node in graph.node
            if node.op_type in QDQ_OP_TYPES
            and not any(out in read for out in node.output)
        ]
        if not unread:
            break
        for node in unread:
            graph.node.remove(node)
    read = {name for node in graph.node for name in node.input}
    for init in [i for i in graph.initializer if i.name not in read]:
        graph.initializer.remove(init)


@contextmanager
def quiet_logger(logger: logging.Logger, level: int = logging.ERROR):
    """``logger`` at ``level`` inside the block (the quantizers log every
    node they skip)."""
    before = logger.level
    logger.setLevel(level)
    try:
        yield
    finally:
        logger.setLevel(before)


def quantize_onnxruntime(
    model_file: str,
    batches: List[np.ndarray],
    out_file: str,
    metadata: dict,
) -> None:
    """QDQ INT8 ``out_file`` (``.onnx``) of ``model_file``, calibrated on
    ``batches``, its post-processing float (see the module docstring),
    with ``metadata`` as its ``mmsolo`` metadata."""
    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    class BatchReader(CalibrationDataReader):
        def __init__(self) -> None:
            self.batches = iter(batches)

        def get_next(self) -> Optional[Dict[str, np.ndarray]]:
            batch = next(self.batches, None)
            return None if batch is None else {INPUT_NAME: batch}

    proto, _ = load_float_graph(model_file)
    postprocess = postprocess_nodes(proto)
    with tempfile.TemporaryDirectory(prefix='mmsolo_int8_') as workdir:
        tmp_file = osp.join(workdir, 'int8.onnx')
        with quiet_logger(logging.getLogger()):
            quantize_static(
                model_file,
                tmp_file,
                BatchReader(),
                quant_format=QuantFormat.QDQ,
                per_channel=True,
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
                nodes_to_exclude=postprocess,
                op_types_to_quantize=list(ORT_OP_TYPES),
                # A ReLU stays a node (were it quantized, it would
                # otherwise be folded into the zero point of the tensor
                # before it), so that a float tensor given to the
                # post-processing is the ReLU's output.
                extra_options={'QDQKeepRemovableActivations': True},
            )
        quantized = onnx.load(tmp_file)
    float_postprocessing_inputs(quantized, postprocess)
    del quantized.metadata_props[:]
    entry = quantized.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, json.dumps(metadata)
    write_atomically(quantized.SerializeToString(), out_file)


def float_openvino_postprocessing(model, postprocess: Iterable[str]) -> int:
    """Make every input of a post-processing operation that a FakeQuantize
    gives read the FakeQuantize's input instead (NNCF places none there
    with the post-processing in its ignored scope: a safeguard). Returns
    the inputs changed."""
    postprocess = set(postprocess)
    changed = 0
    for op in model.get_ordered_ops():
        if op.get_friendly_name() not in postprocess:
            continue
        for port in op.inputs():
            source = port.get_source_output().get_node()
            if source.get_type_name() == 'FakeQuantize':
                port.replace_source_output(source.input_value(0))
                changed += 1
    return changed


def save_ir_atomically(model, out_file: str) -> None:
    """``out_file`` (``.xml``) and its ``.bin`` written beside it under
    temporary names and renamed over the targets, the ``.bin`` first: an
    ``.xml`` is never seen without its whole ``.bin``."""
    import openvino as ov

    directory = osp.dirname(osp.abspath(out_file))
    os.makedirs(directory, exist_ok=True)
    workdir = tempfile.mkdtemp(
        dir=directory, prefix=f'.{osp.basename(out_file)}.'
    )
    try:
        tmp_xml = osp.join(workdir, 'model.xml')
        ov.save_model(model, tmp_xml, compress_to_fp16=False)
        os.replace(
            osp.join(workdir, 'model.bin'), osp.splitext(out_file)[0] + '.bin'
        )
        os.replace(tmp_xml, out_file)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def quantize_openvino(
    model_file: str,
    batches: List[np.ndarray],
    out_file: str,
    metadata: dict,
) -> None:
    """NNCF INT8 OpenVINO IR ``out_file`` (``.xml`` and ``.bin``) of
    ``model_file``, calibrated on ``batches``, its post-processing float
    (NNCF's ``ignored_scope``), with ``metadata`` in its ``rt_info`` under
    ``mmsolo``."""
    import nncf
    import openvino as ov
    from nncf.common.logging import nncf_logger

    load_float_graph(model_file)  # the checks
    model = ov.Core().read_model(model_file)
    postprocess = postprocess_ops(model)
    with quiet_logger(nncf_logger):
        quantized = nncf.quantize(
            model,
            nncf.Dataset(batches),
            subset_size=len(batches),
            ignored_scope=nncf.IgnoredScope(names=postprocess),
        )
    float_openvino_postprocessing(quantized, postprocess)
    quantized.set_rt_info(json.dumps(metadata), [METADATA_KEY])
    save_ir_atomically(quantized, out_file)


QUANTIZERS = dict(onnxruntime=quantize_onnxruntime, openvino=quantize_openvino)


def check_out_file(model_file: str, backend: str, out_file: str) -> None:
    """``out_file`` has the backend's suffix (:data:`QUANTIZED_SUFFIXES`)
    and is not ``model_file``.

    Raises:
        ValueError: naming the backend and the file.
    """
    if backend not in QUANTIZED_SUFFIXES:
        raise ValueError(
            f'unknown backend {backend!r}; use one of '
            f'{tuple(QUANTIZED_SUFFIXES)}'
        )
    suffix = QUANTIZED_SUFFIXES[backend]
    if not out_file.lower().endswith(suffix):
        raise ValueError(
            f'--out {out_file}: the {backend} model is a {suffix} file'
        )
    if osp.abspath(out_file) == osp.abspath(model_file):
        raise ValueError(
            f'--out {out_file} is the float model itself; write the INT8 '
            'model to another file'
        )


def quantize_exported(
    model_file: str,
    cfg: Config,
    backend: str,
    num_images: int,
    out_file: str,
    calib_dir: Optional[str] = None,
) -> dict:
    """INT8 ``out_file`` for ``backend`` of the exported float graph
    ``model_file``, calibrated on ``num_images`` images of the config's val
    set or of ``calib_dir``; returns its ``mmsolo`` metadata (the float
    graph's, plus ``int8``: backend, calibration images, source file).

    Raises:
        FileNotFoundError, ValueError: a missing or bad model file,
        calibration folder or output name (see :func:`load_float_graph`,
        :func:`image_files`, :func:`check_out_file`).
    """
    if num_images < 1:
        raise ValueError(
            f'--calib-images must be at least 1, got {num_images}'
        )
    check_out_file(model_file, backend, out_file)
    _, metadata = load_float_graph(model_file)
    samples = calibration_samples(cfg, num_images, calib_dir)
    batches = calibration_batches(cfg, model_file, samples)
    metadata['int8'] = dict(
        backend=backend,
        calibration_images=len(samples),
        calibration_source=calib_dir or 'config dataset',
        float_model=osp.basename(model_file),
    )
    QUANTIZERS[backend](model_file, batches, out_file, metadata)
    return metadata
