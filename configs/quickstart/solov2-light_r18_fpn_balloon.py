# Your own COCO-format data: the quick-start model on one class, laid out as
# in mmdet's balloon tutorial (data/balloon/{train,val}/ holding the images
# and an annotation_coco.json each). Guide: docs/user_guides/finetune.md.
_base_ = './solov2-light_r18_fpn_shapes.py'

data_root = 'data/balloon/'
classes = ('balloon',)  # a tuple: mind the comma when there is one class
metainfo = dict(classes=classes)

model = dict(mask_head=dict(num_classes=len(classes)))

train_dataloader = dict(
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        ann_file='train/annotation_coco.json',
        data_prefix=dict(img='train/'),
    )
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
