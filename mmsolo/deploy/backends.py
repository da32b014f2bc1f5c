"""Inference backends of exported graphs: ONNX Runtime and OpenVINO, both
behind one interface (a batch of images in, the named outputs out). Both run
the ``.onnx`` files of ``tools/deployment/pytorch2onnx.py`` and
``tools/deployment/quantize.py --backend onnxruntime``; OpenVINO runs the
IR (``.xml`` and ``.bin``) of ``quantize.py --backend openvino`` too."""

import json
from typing import Dict, Optional

import numpy as np

from .export import INPUT_NAME, METADATA_KEY

BACKENDS = ('onnxruntime', 'openvino')


def is_openvino_ir(model_file: str) -> bool:
    """Whether ``model_file`` is an OpenVINO IR (``.xml``), not ONNX."""
    return model_file.lower().endswith('.xml')


def read_ir_metadata(model_file: str) -> Optional[dict]:
    """The ``mmsolo`` metadata of an OpenVINO IR: its ``rt_info``'s
    ``mmsolo`` entry (written by ``tools/deployment/quantize.py``), or the
    ONNX metadata OpenVINO keeps under ``framework`` when it converts an
    exported ``.onnx`` file; None if it has neither."""
    import openvino as ov

    model = ov.Core().read_model(model_file)
    for path in ([METADATA_KEY], ['framework', METADATA_KEY]):
        if model.has_rt_info(path):
            return json.loads(model.get_rt_info(path).astype(str))
    return None


def read_deploy_metadata(model_file: str) -> dict:
    """The ``mmsolo`` metadata :func:`export_onnx` (or
    ``tools/deployment/quantize.py``) wrote into the file (``.onnx``, or an
    OpenVINO ``.xml``)."""
    if is_openvino_ir(model_file):
        meta = read_ir_metadata(model_file)
        if meta is not None:
            return meta
    else:
        import onnx

        proto = onnx.load(model_file, load_external_data=False)
        for entry in proto.metadata_props:
            if entry.key == METADATA_KEY:
                return json.loads(entry.value)
    raise ValueError(
        f'{model_file} has no "{METADATA_KEY}" metadata: export '
        'it with tools/deployment/pytorch2onnx.py (and quantize it with '
        'tools/deployment/quantize.py)'
    )


class OnnxRuntimeBackend:
    """An ONNX Runtime CPU session.

    Args:
        model_file (str): The ``.onnx`` file (float, or the QDQ INT8 graph
            of ``tools/deployment/quantize.py``).
        num_threads (int, optional): Intra-op threads; ORT's default if
            None.
        spinning (bool): Let idle ORT threads spin-wait for work (ORT's
            default). Off here: spinning threads take the CPU from
            whatever runs between two calls (the data pipeline, or
            PyTorch in an interleaved benchmark).
    """

    def __init__(
        self,
        model_file: str,
        num_threads: Optional[int] = None,
        spinning: bool = False,
    ) -> None:
        import onnxruntime as ort

        if is_openvino_ir(model_file):
            raise ValueError(
                f'{model_file} is an OpenVINO IR: run it with --backend '
                'openvino (ONNX Runtime runs .onnx files)'
            )
        options = ort.SessionOptions()
        if num_threads:
            options.intra_op_num_threads = num_threads
        options.add_session_config_entry(
            'session.intra_op.allow_spinning', '1' if spinning else '0'
        )
        options.log_severity_level = 3
        self.session = ort.InferenceSession(
            model_file, options, providers=['CPUExecutionProvider']
        )
        self.names = [out.name for out in self.session.get_outputs()]

    def __call__(self, images: np.ndarray) -> Dict[str, np.ndarray]:
        """Outputs of a float32 batch (B, 3, H, W), by name."""
        outputs = self.session.run(self.names, {INPUT_NAME: images})
        return dict(zip(self.names, outputs))


class OpenVINOBackend:
    """An OpenVINO compiled model, float32 inference (the CPU plugin
    would run bf16 where the CPU has it, which moves scores by ~1e-3). The
    hint leaves the INT8 layers of a quantized model (its FakeQuantize
    operations) in INT8.

    Args:
        model_file (str): The ``.onnx`` file (read by OpenVINO directly),
            or an IR ``.xml`` (with its ``.bin`` beside it) such as
            ``tools/deployment/quantize.py --backend openvino`` writes.
        device (str): OpenVINO device. Defaults to ``'CPU'``.
        num_threads (int, optional): ``INFERENCE_NUM_THREADS``.
    """

    def __init__(
        self,
        model_file: str,
        device: str = 'CPU',
        num_threads: Optional[int] = None,
    ) -> None:
        import openvino as ov

        config = {'INFERENCE_PRECISION_HINT': 'f32'}
        if num_threads:
            config['INFERENCE_NUM_THREADS'] = num_threads
        self.compiled = ov.Core().compile_model(model_file, device, config)
        self.request = self.compiled.create_infer_request()
        self.names = [out.get_any_name() for out in self.compiled.outputs]

    def __call__(self, images: np.ndarray) -> Dict[str, np.ndarray]:
        """Outputs of a float32 batch (B, 3, H, W), by name."""
        results = self.request.infer({INPUT_NAME: images})
        values = [np.asarray(results[out]) for out in self.compiled.outputs]
        return dict(zip(self.names, values))


def build_backend(
    backend: str, model_file: str, num_threads: Optional[int] = None
):
    """``'onnxruntime'`` or ``'openvino'`` session of ``model_file``."""
    if backend == 'onnxruntime':
        return OnnxRuntimeBackend(model_file, num_threads)
    if backend == 'openvino':
        return OpenVINOBackend(model_file, num_threads=num_threads)
    raise ValueError(f'unknown backend {backend!r}; use one of {BACKENDS}')
