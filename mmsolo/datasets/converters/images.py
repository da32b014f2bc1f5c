"""A folder of images to a COCO file for testing without labels: the
images and the categories, no annotation (what ``tools/test.py`` reads as
``test_dataloader.dataset.ann_file`` to predict on unlabelled images)."""

from typing import Optional, Sequence

from .common import (
    IMAGE_EXTENSIONS,
    CocoBuilder,
    ConversionError,
    find_files,
    image_size,
    relative_file_name,
)


def images_to_coco(
    img_dir: str,
    classes: Sequence[str],
    exclude_extensions: Sequence[str] = (),
    img_prefix: Optional[str] = None,
) -> dict:
    """The COCO file of the images under ``img_dir`` (searched
    recursively, names ending in ``exclude_extensions`` left out):
    ``images`` with their sizes as decoded, ``categories`` ``classes``
    (ids 1..N in order), ``annotations`` empty. ``file_name``s are
    relative to ``img_prefix`` (default ``img_dir``).

    Raises:
        ConversionError: no such folder, no image in it, or an image that
            cannot be read (naming it).
    """
    excluded = tuple(ext.lower() for ext in exclude_extensions)
    images = [
        path
        for path in find_files([img_dir], IMAGE_EXTENSIONS)
        if not (excluded and path.lower().endswith(excluded))
    ]
    if not images:
        raise ConversionError(
            f'{img_dir}: no image file ({", ".join(IMAGE_EXTENSIONS)}) in it'
        )
    builder = CocoBuilder(list(classes))
    for path in images:
        height, width = image_size(path)
        builder.add_image(
            relative_file_name(path, img_prefix or img_dir), height, width
        )
    return builder.to_dict()
