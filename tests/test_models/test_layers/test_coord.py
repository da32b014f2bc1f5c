"""Coordinate maps: linspace's float32 values, built from the feature's
own size (so an exported graph follows its input size)."""

import numpy as np
import pytest
import torch

from mmsolo.models.layers import concat_coords, coord_features
from mmsolo.models.layers.coord import coord_axis

# CPUs whose linspace rounds once (fused multiply-add); without FMA it
# rounds twice and may differ from the exact rounding by one ulp.
FMA_CPUS = ('AVX2', 'AVX512')


@pytest.mark.skipif(
    torch.backends.cpu.get_cpu_capability() not in FMA_CPUS,
    reason='linspace rounds twice on this CPU',
)
def test_axis_equals_linspace_bit_for_bit():
    like = torch.zeros(1)
    for size in range(1, 1100):
        assert torch.equal(
            coord_axis(size, like), torch.linspace(-1, 1, size)
        ), size


def test_axis_is_the_exactly_rounded_linspace():
    """-1 + i * step from the lower end, 1 - (size - 1 - i) * step from the
    upper, step = 2 / (size - 1) in float32, rounded once to float32."""
    for size in (1, 2, 7, 100, 337):
        step = np.float64(np.float32(2.0) / np.float32(max(size - 1, 1)))
        index = np.arange(size, dtype=np.float64)
        exact = np.where(
            (index < size // 2) | (index == 0),
            -1.0 + step * index,
            1.0 - step * (size - 1 - index),
        )
        axis = coord_axis(size, torch.zeros(1))
        assert axis.dtype == torch.float32
        np.testing.assert_array_equal(axis.numpy(), exact.astype(np.float32))
        assert axis[0] == -1 and (size == 1 or axis[-1] == 1)


def test_maps_and_concatenation():
    feats = torch.randn(2, 3, 5, 7, dtype=torch.float64)
    coords = coord_features(feats)
    assert coords.shape == (2, 2, 5, 7) and coords.dtype == torch.float64
    assert torch.equal(coords[1, 0, 4], coord_axis(7, feats))  # x per row
    assert torch.equal(coords[0, 1, :, 6], coord_axis(5, feats))  # y
    out = concat_coords(feats)
    assert torch.equal(out[:, :3], feats) and torch.equal(out[:, 3:], coords)


def test_traced_with_a_dynamic_size_follows_the_input():
    """Exported with symbolic H and W, the program computes the maps of
    other sizes, equal to eager ones."""

    class Coords(torch.nn.Module):
        def forward(self, feats):
            return coord_features(feats)

    dims = {
        2: torch.export.Dim('h', min=2, max=512),
        3: torch.export.Dim('w', min=2, max=512),
    }
    program = torch.export.export(
        Coords(), (torch.zeros(1, 1, 8, 12),), dynamic_shapes=(dims,)
    )
    for height, width in ((8, 12), (37, 5), (200, 304)):
        feats = torch.zeros(1, 1, height, width)
        assert torch.equal(program.module()(feats), coord_features(feats))
