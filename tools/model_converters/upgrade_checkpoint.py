"""Rewrite a training checkpoint of an earlier mmsolo (or of mmengine's own
CheckpointHook) so that it loads with ``torch.load(weights_only=True)``.

    python tools/model_converters/upgrade_checkpoint.py OLD NEW --unsafe-load

Such a file holds the message hub as ``HistoryBuffer`` objects, which only a
full unpickling reads: ``--unsafe-load`` is required and says that you trust
OLD (e.g. you wrote it yourself). NEW holds the same weights,
optimizer, schedulers, random states and meta, the message hub stored as
tensors (:mod:`mmsolo.checkpoint.plain_state`); ``--resume NEW`` goes on
exactly as from OLD.
"""

import argparse
import sys

import torch

from mmsolo.checkpoint import (
    add_unsafe_load_argument,
    load_checkpoint_file,
    save_checkpoint_atomic,
    to_plain_checkpoint,
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('src', help='checkpoint to upgrade')
    parser.add_argument('dst', help='where to write the upgraded checkpoint')
    add_unsafe_load_argument(parser)
    args = parser.parse_args()
    if not args.unsafe_load:
        parser.error(
            'reading an old training checkpoint unpickles it fully '
            '(it can run code): pass --unsafe-load if you trust '
            f'{args.src}'
        )
    try:
        checkpoint = load_checkpoint_file(args.src, 'cpu', unsafe=True)
        if not isinstance(checkpoint, dict):
            raise ValueError(
                f'{args.src} holds a '
                f'{type(checkpoint).__name__}, not a checkpoint'
            )
        plain = to_plain_checkpoint(checkpoint)
    except (FileNotFoundError, TypeError, ValueError) as error:
        print(f'error: {error}', file=sys.stderr)
        return 1
    save_checkpoint_atomic(plain, args.dst)
    torch.load(args.dst, map_location='cpu', weights_only=True)  # proof
    print(
        f'upgraded {args.src} -> {args.dst}: {len(plain)} entries '
        f'({", ".join(plain)}), loadable with weights_only=True'
    )
    return 0


if __name__ == '__main__':
    sys.exit(main())
