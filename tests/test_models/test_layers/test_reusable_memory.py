"""ReusableMemory lends its block again only when no array or tensor of the
previous result is alive, and never hands out memory someone still reads;
take_masks results stay intact while held."""
import gc

import numpy as np
import pytest
import torch

from mmsolo.models.layers.nms.common import take_masks
from mmsolo.models.layers.reusable_memory import ReusableMemory


def address(array: np.ndarray) -> int:
    return array.__array_interface__['data'][0]


def test_block_is_lent_again_once_dropped():
    memory = ReusableMemory()
    first = memory.empty((4, 8, 16), np.bool_)
    where = address(first)
    del first
    second = memory.empty((2, 8, 16), np.bool_)  # smaller: same block
    assert address(second) == where and second.shape == (2, 8, 16)
    del second
    wider = memory.empty((3, 5), np.float32)  # another dtype, same block
    assert address(wider) == where and wider.dtype == np.float32


# Ways a caller can keep reading the previous result.
HOLDERS = {
    'the array': lambda a: a,
    'a NumPy view': lambda a: a[1:, ::2],
    'a tensor': torch.from_numpy,
    'a slice of a tensor': lambda a: torch.from_numpy(a)[1],
    'the NumPy view of a tensor': lambda a: torch.from_numpy(a).numpy(),
    'a tensor view of another dtype': lambda a: torch.from_numpy(a).view(
        torch.uint8),
}


@pytest.mark.parametrize('holder', sorted(HOLDERS))
def test_memory_in_use_is_never_lent(holder):
    memory = ReusableMemory()
    result = memory.empty((4, 8, 16), np.bool_)
    block = address(result)
    result[:] = True
    held = HOLDERS[holder](result)
    del result
    gc.collect()
    other = memory.empty((4, 8, 16), np.bool_)
    other[:] = False
    kept = held.numpy() if isinstance(held, torch.Tensor) else held
    assert kept.all(), 'a held result was overwritten'
    assert address(other) != block
    # Once the result is dropped, its block is lent again.
    del held, kept
    gc.collect()
    assert address(memory.empty((1, 8, 16), np.bool_)) == block


def test_larger_results_get_a_larger_block_and_huge_ones_their_own():
    memory = ReusableMemory(max_bytes=1000)
    small = memory.empty((10, ), np.uint8)
    del small
    large = memory.empty((500, ), np.uint8)  # grows the block
    where = address(large)
    del large
    assert address(memory.empty((400, ), np.uint8)) == where
    huge = memory.empty((2000, ), np.uint8)  # above max_bytes: not kept
    assert huge.shape == (2000, )
    assert memory.empty((0, 5), np.uint8).shape == (0, 5)
    memory.release()
    assert memory.empty((10, ), np.uint8).shape == (10, )


def test_take_masks_results_stay_intact_while_held():
    masks = torch.rand(20, 16, 24, generator=torch.Generator().manual_seed(0)
                       ) > 0.5
    first_index = torch.tensor([3, 1, 4, 1, 5])
    first = take_masks(masks, first_index)
    expected = masks[first_index].clone()
    for seed in range(3):  # later calls must not reuse the held memory
        index = torch.randint(20, (7, ),
                              generator=torch.Generator().manual_seed(seed))
        assert torch.equal(take_masks(masks, index), masks[index])
    assert torch.equal(first, expected)
    pointer = first.data_ptr()
    del first
    gc.collect()
    again = take_masks(masks, first_index)  # the block, free again
    assert again.data_ptr() == pointer and torch.equal(again, expected)
