"""mmdet's CocoDataset with its input checked before a run starts and its
instances kept from their masks."""

from typing import List

from mmdet.datasets import CocoDataset as MMDetCocoDataset
from mmdet.datasets.api_wrappers import COCO

from mmsolo.registry import DATASETS
from mmsolo.utils.messages import abbreviated
from .checked_input import CheckedInputMixin
from .coco_checks import AnnotationFileError, read_coco_json

MAX_NAMES_SHOWN = 8


def _listed(names: List[str]) -> str:
    return abbreviated([repr(name) for name in names], MAX_NAMES_SHOWN)


class CheckedCOCO(COCO):
    """mmdet's COCO API over a file read by
    :func:`~mmsolo.datasets.coco_checks.read_coco_json`: a file that is not
    JSON or fails a check raises ``AnnotationFileError`` naming it."""

    def __init__(
        self, annotation_file: str = None, require_annotations: bool = True
    ) -> None:
        super().__init__(None)
        if annotation_file is None:
            return
        self.dataset = read_coco_json(annotation_file, require_annotations)
        self.createIndex()
        self.img_ann_map = self.imgToAnns
        self.cat_img_map = self.catToImgs


@DATASETS.register_module()
class CheckedCocoDataset(CheckedInputMixin, MMDetCocoDataset):
    """mmdet's ``CocoDataset`` (same arguments, same data) that checks its
    input when it is built, i.e. before the first training step:

    - the annotation file: JSON, with the keys training needs, every
      ``segmentation`` a polygon list or RLE (see
      :mod:`mmsolo.datasets.coco_checks`);
    - the classes: every name in ``metainfo['classes']`` is a category of
      the file (mmdet drops unknown names silently);
    - the images kept after filtering: present, with an image header (local
      files only; a remote ``backend_args`` skips it; so does
      ``check_images=False``).

    Each failure raises a ``ValueError`` subclass naming the file and the
    record. And an instance whose ``bbox`` mmdet would drop (zero width
    ...) is trained on with the tight box of its mask if the mask has
    pixels (:class:`~mmsolo.datasets.checked_input.CheckedInputMixin`).
    Configs name it ``type='mmsolo.CheckedCocoDataset'``;
    ``'CocoDataset'`` is mmdet's.
    """

    def __init__(self, *args, check_images: bool = True, **kwargs) -> None:
        self.check_images = check_images
        super().__init__(*args, **kwargs)

    def COCOAPI(self, path: str) -> CheckedCOCO:  # noqa: N802 (mmdet's)
        """The API mmdet's ``load_data_list`` reads the file with, once
        every name of ``metainfo['classes']`` is known to be a category of
        the file."""
        coco = CheckedCOCO(path, require_annotations=not self.test_mode)
        file_names = [
            category['name'] for category in coco.dataset['categories']
        ]
        unknown = [
            name for name in self.metainfo['classes'] if name not in file_names
        ]
        if unknown:
            raise AnnotationFileError(
                f'{self.ann_file} has no category named {_listed(unknown)}; '
                f'its categories are {_listed(file_names)}. Set the '
                "dataset's metainfo=dict(classes=(...)) to names of the file "
                '(and model.mask_head.num_classes to their number)'
            )
        return coco


__all__ = ['AnnotationFileError', 'CheckedCOCO', 'CheckedCocoDataset']
