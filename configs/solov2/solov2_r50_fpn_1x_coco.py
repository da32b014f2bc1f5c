# SOLOv2 R50-FPN, 1x: mmdet model zoo 34.8 mask AP (COCO val2017).
_base_ = [
    '../_base_/models/solov2_r50_fpn.py',
    '../_base_/datasets/coco_instance.py',
    '../_base_/schedules/schedule_1x.py', '../_base_/default_runtime.py'
]
