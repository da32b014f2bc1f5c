"""Checks that a batch carries the ground truth a detector's loss needs."""

from mmdet.structures import SampleList

SEMANTIC_STEP = (
    "dict(type='mmsolo.LoadPanopticAnnotations', with_bbox=True, "
    'with_mask=True, with_seg=True)'
)


def check_semantic_ground_truth(batch_data_samples: SampleList) -> None:
    """Raise a ValueError naming the pipeline step to add if a sample has
    no ``gt_sem_seg`` (the semantic head's target).

    Raises:
        ValueError: e.g. for a train pipeline with ``LoadAnnotations`` or
            ``LoadPanopticAnnotations(with_seg=False)``.
    """
    for index, sample in enumerate(batch_data_samples):
        if 'gt_sem_seg' not in sample:
            path = sample.metainfo.get('img_path', f'sample {index}')
            raise ValueError(
                f'PanopticSOLOv2 trains its semantic head on gt_sem_seg, '
                f'which the training sample of {path} lacks: the train '
                'pipeline (train_dataloader.dataset.pipeline) must load it '
                f'with {SEMANTIC_STEP}; LoadAnnotations and '
                'LoadPanopticAnnotations(with_seg=False) load none'
            )
