"""Graph outputs to data samples: boxes re-derived on the host follow the
exported test_cfg's box mode."""
import pytest
import torch

from mmsolo.deploy.results import to_instances


def padded_detection():
    """One detection at a padded size of 8 x 12: a 4 x 4 square and a
    stray pixel cut off from it by an empty row and columns; the graph's
    box (a dummy) is not used since the masks are cropped."""
    masks = torch.zeros(1, 8, 12, dtype=torch.bool)
    masks[0, 0:4, 0:4] = True
    masks[0, 5, 7] = True
    return dict(scores=torch.tensor([0.9]), labels=torch.tensor([2]),
                masks=masks, boxes=torch.full((1, 4), -1.0),
                mask_probs=masks[:, ::4, ::4].float())


@pytest.mark.parametrize('box_cfg,box', [
    (None, [0, 0, 8, 6]),
    (dict(mask_thr=0.5), [0, 0, 8, 6]),  # an export without the keys
    (dict(mask_box='tight', mask_box_min_part=0.1), [0, 0, 8, 6]),
    (dict(mask_box='main_parts', mask_box_min_part=0.1), [0, 0, 4, 4]),
])
def test_cropped_masks_get_the_boxes_of_the_exported_mode(box_cfg, box):
    meta = dict(img_shape=(6, 8), ori_shape=(6, 8))
    instances = to_instances(padded_detection(), meta, 4, 0.5, True, box_cfg)
    assert instances.masks.shape == (1, 6, 8)
    assert instances.bboxes.tolist() == [box]
