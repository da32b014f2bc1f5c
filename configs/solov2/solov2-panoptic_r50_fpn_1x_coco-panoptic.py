# SOLOv2 panoptic R50-FPN, 1x, COCO panoptic: the instance model of
# solov2_r50_fpn_1x_coco.py with a semantic head and Panoptic FPN's fusion.
_base_ = [
    '../_base_/models/solov2-panoptic_r50_fpn.py',
    '../_base_/datasets/coco_panoptic.py',
    '../_base_/schedules/schedule_1x.py',
    '../_base_/default_runtime.py',
]
