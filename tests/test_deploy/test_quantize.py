"""INT8 quantization of an exported graph (tools/deployment/quantize.py,
mmsolo/deploy/quantize.py) on a seeded quick-start model at 128x128 and
three generated val images: the network quantized and the post-processing
float on both backends, the INT8 models evaluated and timed by the tools'
``--backend``, bad inputs refused by name."""

import os
import subprocess

import onnx
import pytest
from mmengine.config import Config
from support import seeded_model

from mmsolo.datasets import write_split
from mmsolo.deploy import export_onnx
from mmsolo.deploy.quantize import postprocess_nodes, postprocess_ops
from .helpers import QUICKSTART_CONFIG
from .test_deploy_tools import CONFIG_TEMPLATE, run_tool, segm_map

SHAPE = (128, 128)
QDQ = ('QuantizeLinear', 'DequantizeLinear')
# Operations that only the post-processing has (the network has none): the
# dynamic convolution, mask IoU and upsampling matrix products, the
# category probabilities, the candidate selection and the detections.
POSTPROCESS_ONLY_ONNX = ('MatMul', 'Sigmoid', 'TopK', 'NonZero')
POSTPROCESS_ONLY_OPENVINO = ('MatMul', 'Sigmoid', 'TopK', 'NonZero')


@pytest.fixture(scope='module')
def graphs(tmp_path_factory):
    """A config on 3 generated 128x128 val images, and the seeded
    quick-start model exported twice: as pytorch2onnx.py does with
    ``--simplify --with-normalize --dynamic-batch``, and plain (onnxslim
    drops the exporter's module-scope metadata; the plain graph keeps
    it)."""
    root = tmp_path_factory.mktemp('quantize')
    write_split(str(root / 'data'), 'val', num_images=3, seed=11, size=128)
    config = root / 'shapes.py'
    config.write_text(
        CONFIG_TEMPLATE.format(base=QUICKSTART_CONFIG, data=root / 'data')
    )
    model = seeded_model(
        QUICKSTART_CONFIG, class_bias_mean=-1.0, channels_last=False
    )
    preprocessor = Config.fromfile(QUICKSTART_CONFIG).model.data_preprocessor
    normalize = (preprocessor.mean, preprocessor.std, True)
    slim = str(root / 'float.onnx')
    export_onnx(
        model,
        slim,
        SHAPE,
        pad_divisor=64,
        dynamic_batch=True,
        normalize=normalize,
        simplify=True,
    )
    plain = str(root / 'plain.onnx')
    export_onnx(model, plain, SHAPE, pad_divisor=64)
    return root, config, slim, plain


def quantize(python, repo_root, model, config, backend, out, *extra):
    return run_tool(
        python,
        repo_root,
        'tools/deployment/quantize.py',
        str(model),
        str(config),
        '--backend',
        backend,
        '--calib-images',
        '2',
        '--out',
        str(out),
        *extra,
    )


@pytest.fixture(scope='module')
def ort_int8(graphs, repo_root, python):
    root, config, slim, _ = graphs
    out = root / 'int8.onnx'
    done = quantize(python, repo_root, slim, config, 'onnxruntime', out)
    assert 'calibrated on 2 images' in done.stdout
    return out


@pytest.fixture(scope='module')
def ov_int8(graphs, repo_root, python):
    root, config, slim, _ = graphs
    calib_dir = root / 'data' / 'val'  # calibration images from a folder
    out = root / 'int8.xml'
    done = quantize(
        python,
        repo_root,
        slim,
        config,
        'openvino',
        out,
        '--calib-dir',
        str(calib_dir),
    )
    assert f'from {calib_dir}' in done.stdout
    return out


def test_postprocess_rule_matches_export_scopes(graphs):
    """The structural rule (no network layer reachable) picks exactly the
    nodes the exporter traced inside ``graph_predict``."""
    proto = onnx.load(graphs[3])
    traced = {}
    for node in proto.graph.node:
        meta = {e.key: e.value for e in node.metadata_props}
        if 'pkg.torch.onnx.stack_trace' in meta:
            traced[node.name] = (
                'graph_predict(' in meta['pkg.torch.onnx.stack_trace']
            )
    assert len(traced) >= 0.95 * len(proto.graph.node)
    expected = {name for name, post in traced.items() if post}
    found = set(postprocess_nodes(proto)) & set(traced)
    assert expected and found == expected
    scoped = {
        node.name
        for node in proto.graph.node
        if any(
            e.key == 'pkg.torch.onnx.name_scopes'
            and 'detector.mask_head' in e.value
            for e in node.metadata_props
        )
    }
    assert scoped and not scoped & found  # the head is network


def qdq_readers(proto):
    """Nodes that read a QuantizeLinear / DequantizeLinear output."""
    producer = {out: node for node in proto.graph.node for out in node.output}
    return [
        node
        for node in proto.graph.node
        if any(
            name in producer and producer[name].op_type in QDQ
            for name in node.input
        )
    ]


def test_onnxruntime_int8_graph(graphs, ort_int8):
    float_post = set(postprocess_nodes(onnx.load(graphs[2])))
    proto = onnx.load(str(ort_int8))
    readers = qdq_readers(proto)
    convs = [node for node in proto.graph.node if node.op_type == 'Conv']
    # The network is quantized: every convolution reads 8-bit values.
    assert convs and all(conv in readers for conv in convs)
    # The post-processing reads float tensors only.
    assert float_post <= {node.name for node in proto.graph.node}
    assert not [n.name for n in readers if n.name in float_post]
    assert not [n.name for n in readers if n.op_type in POSTPROCESS_ONLY_ONNX]
    meta = {e.key: e.value for e in proto.metadata_props}
    assert '"int8": {"backend": "onnxruntime"' in meta['mmsolo']


def test_openvino_int8_graph(graphs, ov_int8):
    import openvino as ov

    core = ov.Core()
    float_post = set(postprocess_ops(core.read_model(graphs[2])))
    assert ov_int8.with_suffix('.bin').stat().st_size > 0
    model = core.read_model(str(ov_int8))
    fake_quantized = [
        op
        for op in model.get_ordered_ops()
        if op.get_type_name() == 'FakeQuantize'
    ]
    assert fake_quantized  # the network is quantized
    readers = [
        target.get_node()
        for op in fake_quantized
        for target in op.output(0).get_target_inputs()
    ]
    assert not [
        r.get_friendly_name()
        for r in readers
        if r.get_friendly_name() in float_post
        or r.get_type_name() in POSTPROCESS_ONLY_OPENVINO
    ]
    assert any(r.get_type_name() == 'Convolution' for r in readers)


@pytest.mark.parametrize('backend', ['onnxruntime', 'openvino'])
def test_int8_evaluated_by_test_tool(
    graphs, ort_int8, ov_int8, repo_root, python, backend
):
    root, config, _, _ = graphs
    model = ort_int8 if backend == 'onnxruntime' else ov_int8
    done = run_tool(
        python,
        repo_root,
        'tools/test.py',
        str(config),
        str(model),
        '--backend',
        backend,
        '--work-dir',
        str(root / f'w_{backend}'),
    )
    assert 0.0 <= segm_map(done.stdout + done.stderr) <= 1.0


def test_int8_ir_timed_by_benchmark(graphs, ov_int8, repo_root, python):
    _, config, _, _ = graphs
    done = run_tool(
        python,
        repo_root,
        'tools/analysis_tools/benchmark.py',
        str(config),
        str(ov_int8),
        '--backend',
        'openvino',
        '--synthetic',
        '--shape',
        *map(str, SHAPE),
        '--max-iter',
        '1',
        '--num-warmup',
        '1',
    )
    assert 'Overall fps' in done.stdout + done.stderr


def failed_tool(python, repo_root, *args):
    env = dict(os.environ, PYTHONPATH=repo_root)
    done = subprocess.run(
        [python, *args],
        cwd=repo_root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode != 0
    return done.stderr


def test_bad_model_file_named(graphs, repo_root, python):
    root, config, _, _ = graphs
    fake = root / 'not_a_model.onnx'
    fake.write_text('this is not a protobuf')
    out = root / 'never.onnx'
    stderr = failed_tool(
        python,
        repo_root,
        'tools/deployment/quantize.py',
        str(fake),
        str(config),
        '--backend',
        'onnxruntime',
        '--calib-images',
        '1',
        '--out',
        str(out),
    )
    assert f'{fake} is not an ONNX model' in stderr
    assert not out.exists()


def test_calib_dir_without_images_named(graphs, repo_root, python):
    root, config, slim, _ = graphs
    empty = root / 'no_images'
    empty.mkdir()
    (empty / 'notes.txt').write_text('no pictures here')
    out = root / 'never.xml'
    stderr = failed_tool(
        python,
        repo_root,
        'tools/deployment/quantize.py',
        slim,
        str(config),
        '--backend',
        'openvino',
        '--calib-images',
        '1',
        '--calib-dir',
        str(empty),
        '--out',
        str(out),
    )
    assert f'--calib-dir {empty} holds no image' in stderr
    assert not out.exists() and not out.with_suffix('.bin').exists()


def test_test_tool_refuses_ir_for_onnxruntime(
    graphs, ov_int8, repo_root, python
):
    _, config, _, _ = graphs
    stderr = failed_tool(
        python,
        repo_root,
        'tools/test.py',
        str(config),
        str(ov_int8),
        '--backend',
        'onnxruntime',
    )
    assert f'--backend onnxruntime runs .onnx files, got {ov_int8}' in stderr
