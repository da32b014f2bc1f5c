# Table 3 (NMS), row Soft-NMS: gaussian penalty exp(-iou^2 / 0.5).
_base_ = '../solov2_r50_fpn_1x_coco.py'

# sigma 0.5 is Soft-NMS's default; filter_thr drops decayed scores < 0.05.
model = dict(
    test_cfg=dict(
        _delete_=True,
        nms_pre=500,
        score_thr=0.1,
        mask_thr=0.5,
        filter_thr=0.05,
        nms_type='soft',
        sigma=0.5,
        max_per_img=100,
    )
)
