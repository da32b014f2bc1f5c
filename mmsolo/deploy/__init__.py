"""ONNX deployment: the whole SOLOv2 (post-processing included) exported as
one graph, run by ONNX Runtime or OpenVINO (see README, "Deploy")."""

from .backends import (
    BACKENDS,
    OnnxRuntimeBackend,
    OpenVINOBackend,
    build_backend,
    read_deploy_metadata,
)
from .deployed_model import DeployedSOLOv2
from .export import export_onnx
from .export_model import SOLOv2Export, graph_spec
from .graph_postprocess import OUTPUT_NAMES, graph_predict
from .results import to_data_samples

__all__ = [
    'BACKENDS',
    'OnnxRuntimeBackend',
    'OpenVINOBackend',
    'build_backend',
    'read_deploy_metadata',
    'DeployedSOLOv2',
    'export_onnx',
    'SOLOv2Export',
    'graph_spec',
    'OUTPUT_NAMES',
    'graph_predict',
    'to_data_samples',
]
from .inference import (
    build_deployed_model,
    deployed_model_cfg,  # noqa
    evaluate_with_backend,
    inference_deployed,
)

__all__ += [
    'build_deployed_model',
    'deployed_model_cfg',
    'inference_deployed',
    'evaluate_with_backend',
]
