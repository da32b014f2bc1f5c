# Table 3 (NMS), row hard NMS: sequential mask NMS at IoU 0.5.
_base_ = '../solov2_r50_fpn_1x_coco.py'

model = dict(
    test_cfg=dict(
        _delete_=True,
        nms_pre=500,
        score_thr=0.1,
        mask_thr=0.5,
        filter_thr=0.05,
        nms_type='hard',
        iou_thr=0.5,
        max_per_img=100,
    )
)
