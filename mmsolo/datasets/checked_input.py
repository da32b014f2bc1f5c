"""What mmsolo's COCO and LVIS datasets add to mmdet's, whatever the file
format: image files checked after filtering, and instances kept from their
masks (see :mod:`.mask_first_boxes`)."""

import logging
from typing import List, Union

from mmengine.logging import print_log

from mmsolo.utils.messages import abbreviated
from .coco_checks import check_image_files
from .mask_first_boxes import mask_first_annotations

MAX_IDS_SHOWN = 5


class CheckedInputMixin:
    """Put before an mmdet ``CocoDataset`` subclass in the bases.

    - ``filter_data``: the images kept are checked (present, an image
      header; local files only, and not with ``check_images=False``).
    - ``parse_data_info``: an annotation whose ``bbox`` mmdet would drop
      but whose mask has pixels gets the tight box of its mask and is
      trained on; one whose mask has no pixel is dropped. After loading,
      one warning line counts the dropped ones (with their ids) and one
      info line the re-boxed ones.

    The subclass's ``__init__`` sets ``self.check_images`` before calling
    mmdet's.
    """

    check_images: bool
    ann_file: str
    backend_args: Union[dict, None]

    def load_data_list(self) -> List[dict]:
        self._reboxed_ids: List = []
        self._empty_ids: List = []
        data_list = super().load_data_list()
        self._report_mask_first()
        return data_list

    def parse_data_info(self, raw_data_info: dict) -> Union[dict, List]:
        img_info = raw_data_info['raw_img_info']
        kept, reboxed, empty = mask_first_annotations(
            raw_data_info['raw_ann_info'],
            img_info['height'],
            img_info['width'],
        )
        self._reboxed_ids += [ann.get('id') for ann in reboxed]
        self._empty_ids += [ann.get('id') for ann in empty]
        return super().parse_data_info(dict(raw_data_info, raw_ann_info=kept))

    def filter_data(self) -> List[dict]:
        data_list = super().filter_data()
        if self.check_images and self.backend_args is None:
            check_image_files(
                (info['img_path'] for info in data_list), self.ann_file
            )
        return data_list

    def _report_mask_first(self) -> None:
        if self._empty_ids:
            print_log(
                f'{self.ann_file}: {len(self._empty_ids)} instance(s) whose '
                'segmentation has no pixel dropped (annotation id(s) '
                f'{_ids(self._empty_ids)})',
                logger='current',
                level=logging.WARNING,
            )
        if self._reboxed_ids:
            print_log(
                f'{self.ann_file}: {len(self._reboxed_ids)} instance(s) with '
                'a degenerate "bbox" (under 1 pixel wide or high, outside '
                'the image, or area <= 0) trained with the tight box of '
                'their mask (annotation id(s) '
                f'{_ids(self._reboxed_ids)})',
                logger='current',
            )
        del self._reboxed_ids, self._empty_ids


def _ids(ids: List) -> str:
    return abbreviated([str(ann_id) for ann_id in ids], MAX_IDS_SHOWN)
