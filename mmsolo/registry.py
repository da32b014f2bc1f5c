"""mmsolo's registries, children of MMDetection's (scope ``mmsolo``).

Being children of mmdet's registries (not of mmengine's root), they find every
mmdet module (``ResNet``, ``FPN``, ``DiceLoss`` ...) by its plain name, while
mmsolo's own modules are registered here. Some of mmsolo's keep the name of
the mmdet/mmengine class they extend, so configs in the ``mmsolo`` scope get
them: ``CocoDataset`` (checks its input before a run), ``CocoMetric``
(evaluates an empty result set), ``CheckpointHook`` (atomic, exactly
resumable), ``DetLocalVisualizer`` (draws every panoptic prediction) and,
needing no panopticapi, ``LoadPanopticAnnotations`` and
``CocoPanopticMetric``; ``mmdet.CocoDataset`` etc. name the originals.
"""
from mmdet import registry as mmdet_registry
from mmengine.registry import FUNCTIONS as MMENGINE_FUNCTIONS
from mmengine.registry import Registry


# The packages whose modules fill these registries, imported by name by
# ``mmsolo.utils.register_all_modules`` (so that the foundation layers
# import none of them; see docs/architecture.md).
REGISTERING_PACKAGES = ('mmsolo.datasets', 'mmsolo.engine',
                        'mmsolo.evaluation', 'mmsolo.models',
                        'mmsolo.visualization')


def _child(name: str, mmdet_registry_name: str, **kwargs) -> Registry:
    return Registry(
        name, parent=getattr(mmdet_registry, mmdet_registry_name), **kwargs)


# Runners, their constructors and loops.
RUNNERS = _child('runner', 'RUNNERS')
RUNNER_CONSTRUCTORS = _child('runner constructor', 'RUNNER_CONSTRUCTORS')
LOOPS = _child('loop', 'LOOPS')
# Data samplers.
DATA_SAMPLERS = _child('data sampler', 'DATA_SAMPLERS')
# Model wrappers (DDP ...) and weight initializers.
MODEL_WRAPPERS = _child('model_wrapper', 'MODEL_WRAPPERS')
WEIGHT_INITIALIZERS = _child('weight initializer', 'WEIGHT_INITIALIZERS')
# Optimizers, optimizer wrappers, their constructors and lr schedulers.
OPTIMIZERS = _child('optimizer', 'OPTIMIZERS')
OPTIM_WRAPPERS = _child(
    'optim_wrapper', 'OPTIM_WRAPPERS', locations=['mmsolo.engine'])
OPTIM_WRAPPER_CONSTRUCTORS = _child('optimizer wrapper constructor',
                                    'OPTIM_WRAPPER_CONSTRUCTORS')
PARAM_SCHEDULERS = _child('parameter scheduler', 'PARAM_SCHEDULERS')
# Evaluators, visualization backends and log processors.
EVALUATOR = _child('evaluator', 'EVALUATOR')
VISBACKENDS = _child('vis_backend', 'VISBACKENDS')
LOG_PROCESSORS = _child('log_processor', 'LOG_PROCESSORS')
# Datasets.
DATASETS = _child('dataset', 'DATASETS', locations=['mmsolo.datasets'])
# Data transforms.
TRANSFORMS = _child(
    'transform', 'TRANSFORMS', locations=['mmsolo.datasets.transforms'])
# Backbones, necks, heads, detectors and losses.
MODELS = _child('model', 'MODELS', locations=['mmsolo.models'])
# Target assigners and other task helpers.
TASK_UTILS = _child('task util', 'TASK_UTILS', locations=['mmsolo.models'])
# Plain callables usable from a config, e.g. ``matrix_nms``.
FUNCTIONS = Registry(
    'function', parent=MMENGINE_FUNCTIONS, locations=['mmsolo.models'])
# Evaluation metrics (mmdet's; mmsolo.evaluation makes lvis run on NumPy 2).
METRICS = _child('metric', 'METRICS', locations=['mmsolo.evaluation'])
# Training hooks.
HOOKS = _child('hook', 'HOOKS', locations=['mmsolo.engine'])
# Visualizers.
VISUALIZERS = _child(
    'visualizer', 'VISUALIZERS', locations=['mmsolo.visualization'])
