"""The CPU a benchmark ran on, as its results record it.

Dependency-free, so that the scripts that only drive tools (and import
no torch) can use it too."""

from typing import List

# The flags that decide the kernels and the training precision: bfloat16
# (AVX512-BF16, AMX) and the integer dot products INT8 needs (VNNI, AMX).
CPU_FLAGS = (
    'avx2',
    'avx512f',
    'avx512_vnni',
    'avx_vnni',
    'avx512_bf16',
    'amx_tile',
    'amx_bf16',
    'amx_int8',
)


def cpu_flags() -> List[str]:
    """The flags of :data:`CPU_FLAGS` this CPU has (``/proc/cpuinfo``;
    empty where it cannot be read)."""
    try:
        with open('/proc/cpuinfo') as f:
            line = next(line for line in f if line.startswith('flags'))
    except (OSError, StopIteration):
        return []
    present = set(line.split(':', 1)[1].split())
    return [flag for flag in CPU_FLAGS if flag in present]
