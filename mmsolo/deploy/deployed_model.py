"""An exported SOLOv2 graph as an mmengine model: ``test_step`` takes the
test dataloader's batches and returns ``DetDataSample``s like the PyTorch
detector, so mmengine's Runner, mmdet's evaluators and the visualizer work
unchanged."""

import copy
from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmdet.structures import DetDataSample
from mmengine.model import BaseModel

from mmsolo.registry import MODELS
from .backends import build_backend, read_deploy_metadata
from .results import to_data_samples


def preprocessor_cfg(data_preprocessor: dict, meta: dict) -> dict:
    """The config's ``DetDataPreprocessor`` for the graph: without its
    normalisation when the graph normalises (``meta['with_normalize']``)."""
    cfg = copy.deepcopy(dict(data_preprocessor))
    cfg.pop('batch_augments', None)
    cfg['pad_size_divisor'] = meta['pad_size_divisor']
    if meta['with_normalize']:
        cfg.update(mean=None, std=None, bgr_to_rgb=False, rgb_to_bgr=False)
    return cfg


@MODELS.register_module()
class DeployedSOLOv2(BaseModel):
    """A ``.onnx`` file exported by ``tools/deployment/pytorch2onnx.py``
    run by ONNX Runtime or OpenVINO.

    Args:
        model_file (str): The ``.onnx`` file.
        backend (str): ``'onnxruntime'`` or ``'openvino'``.
        data_preprocessor (dict): The config's ``model.data_preprocessor``.
        num_threads (int, optional): Backend threads.
    """

    def __init__(
        self,
        model_file: str,
        backend: str = 'onnxruntime',
        data_preprocessor: Optional[dict] = None,
        num_threads: Optional[int] = None,
    ) -> None:
        self.meta = read_deploy_metadata(model_file)
        super().__init__(
            data_preprocessor=preprocessor_cfg(
                data_preprocessor or dict(type='DetDataPreprocessor'),
                self.meta,
            )
        )
        self.backend_name = backend
        self.backend = build_backend(backend, model_file, num_threads)
        self.fusion_head = None
        if self.meta.get('panoptic'):
            from .panoptic import build_fusion_head

            self.fusion_head = build_fusion_head(self.meta['panoptic'])

    def _pad_value(self) -> torch.Tensor:
        """(3, 1, 1) value of padded pixels: 0 after normalisation, or the
        mean colour in the input's channel order when the graph
        normalises (it maps to 0 there too)."""
        if not self.meta['with_normalize']:
            return torch.zeros(3, 1, 1)
        mean = list(self.meta['mean'])
        if self.meta['bgr_to_rgb']:
            mean = mean[::-1]
        return torch.tensor(mean, dtype=torch.float32).view(3, 1, 1)

    def graph_inputs(
        self, inputs: torch.Tensor, data_samples: Sequence[DetDataSample]
    ) -> torch.Tensor:
        """The batch (B, 3, H, W) as the graph takes it: padded to its
        static size if it has one, pad pixels set to :meth:`_pad_value`."""
        height, width = inputs.shape[-2:]
        if not self.meta['dynamic_shape']:
            height, width = self.meta['input_shape'][1:]
            if inputs.shape[-2] > height or inputs.shape[-1] > width:
                raise ValueError(
                    f'a batch of {tuple(inputs.shape[-2:])} does not fit the '
                    f'static graph input {height}x{width}; export with '
                    '--dynamic-shape or a larger --shape'
                )
        batch = self._pad_value().expand(len(inputs), 3, height, width).clone()
        for index, sample in enumerate(data_samples):
            img_h, img_w = sample.metainfo['img_shape'][:2]
            batch[index, :, :img_h, :img_w] = inputs[index, :, :img_h, :img_w]
        return batch.float().contiguous()

    def _chunks(self, batch: torch.Tensor) -> List[Tuple[np.ndarray, int]]:
        """Pieces of the batch that fit the graph's batch size (the last
        one completed with zero images): ``(array, real images)``."""
        if self.meta['dynamic_batch']:
            return [(batch.numpy(), len(batch))]
        size = self.meta['input_shape'][0]
        chunks = []
        for start in range(0, len(batch), size):
            piece = batch[start : start + size]
            real = len(piece)
            if real < size:
                piece = torch.cat(
                    [piece, piece.new_zeros(size - real, *piece.shape[1:])]
                )
            chunks.append((piece.numpy(), real))
        return chunks

    def predict(
        self,
        inputs: torch.Tensor,
        data_samples: List[DetDataSample],
        rescale: bool = True,
    ) -> List[DetDataSample]:
        """``data_samples`` with ``pred_instances`` for a preprocessed
        batch (B, 3, H, W)."""
        batch = self.graph_inputs(inputs, data_samples)
        results, start = [], 0
        for array, real in self._chunks(batch):
            outputs = self.backend(array)
            samples = to_data_samples(
                outputs,
                data_samples[start : start + real],
                self.meta['test_cfg']['mask_stride'],
                self.meta['test_cfg']['mask_thr'],
                rescale,
                self.meta['test_cfg'],
            )
            if self.fusion_head is not None:
                from .panoptic import add_panoptic

                samples = add_panoptic(
                    samples,
                    outputs['semantic_logits'],
                    self.fusion_head,
                    self.meta['panoptic'],
                    rescale,
                )
            results += samples
            start += real
        return results

    def forward(
        self,
        inputs: torch.Tensor,
        data_samples: Optional[List[DetDataSample]] = None,
        mode: str = 'predict',
    ) -> List[DetDataSample]:
        """Only ``mode='predict'``: the graph has no training outputs."""
        if mode != 'predict':
            raise ValueError(
                f'{self.backend_name} models only predict, got mode={mode!r}'
            )
        return self.predict(inputs, data_samples)
