"""mmsolo's test support, shared by tests/ and benchmarks/ (not installed).

Importable as ``support``: ``tests/`` has no ``__init__.py``, so pytest (in
its default "prepend" import mode) puts it first on ``sys.path`` when it
loads ``tests/conftest.py``; ``benchmarks/common.py`` does the same for the
benchmarks.

- :mod:`.models`: :func:`seeded_model`, the one builder of a config's
  model with seeded weights; :func:`model_config`; :func:`spread_class_scores`.
- :mod:`.reference`: mmdet's SOLOv2 and ours with the same weights; paths
  of mmsolo's and mmdet's configs.
- :mod:`.checkpoints`, :mod:`.tiny_runs`: checkpoints, data sets and
  configs for the tests of tools.
- :mod:`.parity`: pairing of a deployed model's predictions with PyTorch's.
- Imported by name only: :mod:`.adelaidet_source`, :mod:`.solo_source`
  (other repositories' SOLOv2 layouts), :mod:`.odd_coco`, :mod:`.lvis_data`
  (generated data sets), :mod:`.crafted_checkpoints` (pickles that run
  code when loaded).

Demo batches are mmsolo's public ``mmsolo.testing.demo_batch``.
"""

from .checkpoints import save_seeded_checkpoint
from .models import model_config, seeded_model, spread_class_scores
from .reference import (
    MMSOLO_R50_CONFIG,
    build_paired_from_mmsolo_config,
    build_paired_solov2,
    mmdet_config_path,
    mmdet_equivalent_model_cfg,
    mmsolo_config_path,
)
from .tiny_runs import (
    QUICKSTART,
    run_tool_here,
    run_tool_process,
    write_tiny_config,
    write_tiny_shapes,
)

__all__ = [
    'MMSOLO_R50_CONFIG',
    'QUICKSTART',
    'build_paired_from_mmsolo_config',
    'build_paired_solov2',
    'mmdet_config_path',
    'mmdet_equivalent_model_cfg',
    'mmsolo_config_path',
    'model_config',
    'run_tool_here',
    'run_tool_process',
    'save_seeded_checkpoint',
    'seeded_model',
    'spread_class_scores',
    'write_tiny_config',
    'write_tiny_shapes',
]
