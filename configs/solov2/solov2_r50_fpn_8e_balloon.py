# Fine-tuning the COCO-trained SOLOv2 R50 on a small data set of your own
# classes, on a GPU: mmdet's balloon set (one class) as the example
# (docs/user_guides/finetune.md; tools/misc/make_config.py writes the same
# child config for any COCO-format set).
_base_ = './solov2_r50_fpn_1x_coco.py'

data_root = 'data/balloon/'
classes = ('balloon',)  # a tuple: mind the comma when there is one class
metainfo = dict(classes=classes)

model = dict(
    # load_from brings the backbone's weights too: no ImageNet download.
    backbone=dict(init_cfg=None),
    mask_head=dict(num_classes=len(classes)),
)

train_dataloader = dict(
    batch_size=2,
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        ann_file='train/annotation_coco.json',
        data_prefix=dict(img='train/'),
    ),
)
val_dataloader = dict(
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        ann_file='val/annotation_coco.json',
        data_prefix=dict(img='val/'),
    )
)
test_dataloader = val_dataloader

val_evaluator = dict(ann_file=data_root + 'val/annotation_coco.json')
test_evaluator = val_evaluator

# A short schedule from COCO weights: 8 epochs, the lr divided by 10 for
# the last one, a 100-iteration warm-up (the category classifier starts
# from scratch).
max_epochs = 8
train_cfg = dict(max_epochs=max_epochs, val_interval=1)
param_scheduler = [
    dict(
        type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=100
    ),
    dict(
        type='MultiStepLR',
        begin=0,
        end=max_epochs,
        by_epoch=True,
        milestones=[7],
        gamma=0.1,
    ),
]
# lr 0.01 is for 16 images per batch: the Runner scales it linearly to
# the actual batch (GPUs x batch_size; 2 images on one GPU: 0.00125).
optim_wrapper = dict(optimizer=dict(lr=0.01))
auto_scale_lr = dict(enable=True, base_batch_size=16)

default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(
        interval=1, max_keep_ckpts=2, save_best='coco/segm_mAP', rule='greater'
    ),
)

# mmdet's COCO model, converted once (docs/user_guides/finetune.md). Its
# category classifier (80 classes) is re-initialised for len(classes), in
# one log line; every other weight loads.
load_from = 'checkpoints/solov2_r50_fpn_1x_coco.pth'
