"""A DistributedDataParallel wrapper for models trained on the CPU."""

from typing import Optional, Sequence

import torch.nn as nn
from mmengine.model import MMDistributedDataParallel

# The ``model_wrapper_cfg.type`` that names it. mmengine's Runner looks model
# wrappers up in mmengine's root registry, which does not see mmsolo's child
# registries, so the wrapper goes by its import path (not registered).
CPU_DDP_TYPE = 'mmsolo.engine.model_wrappers.CPUDistributedDataParallel'


class CPUDistributedDataParallel(MMDistributedDataParallel):
    """mmengine's ``MMDistributedDataParallel`` for a model on the CPU.

    mmengine's Runner gives every ``DistributedDataParallel`` wrapper
    ``device_ids=[LOCAL_RANK]``, which torch accepts for GPU modules only;
    on the CPU (gloo backend) the ids must be left out. This wrapper drops
    them and otherwise behaves as ``MMDistributedDataParallel``.
    ``mmsolo.runner.load_run_config`` picks it (``CPU_DDP_TYPE``) for
    distributed runs when CUDA is absent.

    Args:
        module (nn.Module): The model, all its parameters on the CPU.
        device_ids (Sequence[int], optional): Ignored (see above).
        **kwargs: ``MMDistributedDataParallel`` arguments
            (``broadcast_buffers``, ``find_unused_parameters`` ...).
    """

    def __init__(
        self,
        module: nn.Module,
        device_ids: Optional[Sequence[int]] = None,
        **kwargs,
    ) -> None:
        devices = {param.device.type for param in module.parameters()}
        if devices - {'cpu'}:
            raise ValueError(
                'CPUDistributedDataParallel wraps CPU models only, but the '
                f'model has parameters on {sorted(devices)}; use '
                'MMDistributedDataParallel (the default model_wrapper_cfg) '
                'for GPU training'
            )
        super().__init__(module=module, **kwargs)
