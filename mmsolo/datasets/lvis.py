"""mmdet's LVIS datasets with the checks of mmsolo's COCO dataset."""

from contextlib import contextmanager
from typing import Iterator

from mmdet.datasets import LVISV05Dataset, LVISV1Dataset

from mmsolo.registry import DATASETS
from .checked_input import CheckedInputMixin
from .coco_checks import REQUIRED_KEYS, read_coco_json

# LVIS v0.5 names image files as COCO does; v1 gives each image's
# ``coco_url`` (mmdet takes the file name from it) and no ``file_name``.
LVIS_V05_KEYS = REQUIRED_KEYS
LVIS_V1_KEYS = dict(
    REQUIRED_KEYS, images=('id', 'coco_url', 'height', 'width')
)


@contextmanager
def _lvis_reads_checked(
    required_keys: dict, require_annotations: bool
) -> Iterator[None]:
    """Within the block the ``lvis`` API reads annotation files with
    :func:`~mmsolo.datasets.coco_checks.read_coco_json` (one read, checked)
    instead of a bare ``json.load``."""
    from lvis import LVIS

    previous = LVIS._load_json
    LVIS._load_json = lambda self, path: read_coco_json(
        path, require_annotations, required_keys
    )
    try:
        yield
    finally:
        LVIS._load_json = previous


class _CheckedLVIS(CheckedInputMixin):
    """The checks of :class:`~mmsolo.datasets.CheckedCocoDataset` for an
    mmdet LVIS dataset: the annotation file (JSON, the keys of
    ``REQUIRED_KEYS``, polygon or RLE segmentations, known image and
    category ids) and the images, both before the first step, each failure
    a ``ValueError`` subclass naming the file and the record; instances
    trained from their masks whatever their ``bbox``."""

    REQUIRED_KEYS: dict = LVIS_V05_KEYS

    def __init__(self, *args, check_images: bool = True, **kwargs) -> None:
        self.check_images = check_images
        super().__init__(*args, **kwargs)

    def load_data_list(self):
        with _lvis_reads_checked(self.REQUIRED_KEYS, not self.test_mode):
            return super().load_data_list()


@DATASETS.register_module()
class CheckedLVISV05Dataset(_CheckedLVIS, LVISV05Dataset):
    """mmdet's ``LVISV05Dataset`` with its input checked (see
    :class:`_CheckedLVIS`); ``type='mmsolo.CheckedLVISV05Dataset'``."""


@DATASETS.register_module()
class CheckedLVISV1Dataset(_CheckedLVIS, LVISV1Dataset):
    """mmdet's ``LVISV1Dataset`` with its input checked (see
    :class:`_CheckedLVIS`; images need ``coco_url``, not ``file_name``);
    ``type='mmsolo.CheckedLVISV1Dataset'``."""

    REQUIRED_KEYS = LVIS_V1_KEYS
