# SOLOv2 R50-FPN, 1x, as mmdet's model zoo (its mask AP: README.md in this
# folder).
_base_ = [
    '../_base_/models/solov2_r50_fpn.py',
    '../_base_/datasets/coco_instance.py',
    '../_base_/schedules/schedule_1x.py',
    '../_base_/default_runtime.py',
]
