"""Property-based tests of Matrix NMS (``mmsolo.models.layers.matrix_nms``).

Hypothesis draws masks, labels, scores and options, and the tests check
that scores never grow, the output is sorted by score, at most ``max_num``
masks are kept, degenerate inputs (0 or 1 masks, all-equal scores) give
well-formed outputs, and the results equal :func:`reference_matrix_nms`, a
pair-by-pair loop written from the definition in the SOLOv2 paper (Wang et
al., 2020, section 3.3.2).

The masks are boxes, random noise, empty masks, and copies and
near-copies (a few pixels flipped) of earlier masks, so same-class
overlaps, and so decays, are common. They come as bool, uint8 and float
0/1 masks, which take the sparse path, and as soft float masks, which
take the dense path. Soft values are multiples of 1/16: products and sums
of those are exact in float32 in any summation order, so the
implementation's IoU is the correctly rounded value the reference
computes.

Scores are multiples of 1/1000, filter thresholds are not, so an undecayed
score never sits on a threshold except in an explicit example.

Every test is derandomized: each run checks the same examples.
"""

import math
from typing import (
    Any,
    Dict,
    Iterator,
    List,
    NamedTuple,
    Optional,
    Sequence,
    Tuple,
)

import numpy as np
import pytest
import torch
from hypothesis import assume, event, example, given, settings
from hypothesis import strategies as st
from torch import Tensor

from mmsolo.models.layers import matrix_nms

NmsResult = Tuple[Tensor, Tensor, Tensor, Tensor]

MAX_MASKS = 40
MIN_SIDE, MAX_SIDE = 4, 24
MAX_FLIPS = 4
SOFT_LEVELS = 16
SCORE_STEPS = 1000
# Near-copies are drawn twice as often as the other kinds, so clusters of
# overlapping masks (and with them strong decays) are frequent; exact
# copies give IoU 1 (the linear kernel's 0/0).
MASK_KINDS = ('box', 'near_copy', 'near_copy', 'copy', 'noise', 'empty')
MASK_DTYPES = ('bool', 'uint8', 'float01', 'soft')
KERNELS = ('gaussian', 'linear')
# Off the 1/1000 score grid; -1 and 0 switch the filter off.
FILTER_THRESHOLDS = (-1.0, 0.0, 0.0625, 0.1875, 0.3125, 0.5625)
RTOL, ATOL = 1e-5, 1e-6


def property_settings(max_examples: int) -> settings:
    """Reproducible settings: the same examples on every run, no database,
    no deadline (the first call of a test pays for warm-up)."""
    return settings(
        derandomize=True,
        database=None,
        deadline=None,
        max_examples=max_examples,
    )


@pytest.fixture(scope='module', autouse=True)
def one_intra_op_thread() -> Iterator[None]:
    """One intra-op thread while this module runs, then the old count.

    The inputs are tiny: on a busy 2-core machine, waking a second BLAS
    thread made a (16, 576) x (576, 16) matmul take ~16 ms instead of
    ~5 us, which tripled this module's run time. Results cannot depend on
    it: the IoU sums are exact in any order.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


class NmsCase(NamedTuple):
    """The arguments of one :func:`matrix_nms` call."""

    masks: Tensor
    labels: Tensor
    scores: Tensor
    options: Dict[str, Any]  # filter_thr, nms_pre, max_num, kernel, ...

    def run(self) -> NmsResult:
        return matrix_nms(self.masks, self.labels, self.scores, **self.options)

    def reference(
        self, ranking: Optional[Sequence[int]] = None, **overrides: Any
    ) -> NmsResult:
        return reference_matrix_nms(
            self.masks,
            self.labels,
            self.scores,
            ranking=ranking,
            **{**self.options, **overrides},
        )


# --------------------------------------------------------------------------
# Reference
# --------------------------------------------------------------------------


def decay_ratio(
    iou: float, comp: float, kernel: str, sigma: float
) -> Optional[float]:
    """``f(iou) / f(comp)``: the decay one suppressor gives one mask.

    ``iou`` is the IoU of the suppressor with the mask it decays, ``comp``
    the suppressor's compensate IoU (its own largest IoU with a higher mask
    of its class).

    * gaussian, ``f(x) = exp(-sigma * x**2)``: ``exp(-sigma * (iou**2 -
      comp**2))``.
    * linear, ``f(x) = 1 - x``: ``(1 - iou) / (1 - comp)``. A suppressor
      with ``comp == 1`` is an exact duplicate of a higher mask of its
      class and ``f(comp) == 0``. ``matrix_nms`` turns the 0/0 (``iou ==
      1``) into +inf, where mmdet gives NaN, and ``x/0`` for ``iou < 1``
      is +inf anyway: such a suppressor decays nothing (the higher
      duplicate decays the mask instead). Returns None for it.
    """
    if kernel == 'gaussian':
        return math.exp(-sigma * (iou**2 - comp**2))
    if comp == 1.0:
        return None
    return (1.0 - iou) / (1.0 - comp)


def reference_matrix_nms(
    masks: Tensor,
    labels: Tensor,
    scores: Tensor,
    filter_thr: float = -1,
    nms_pre: int = -1,
    max_num: int = -1,
    kernel: str = 'gaussian',
    sigma: float = 2.0,
    mask_area: Optional[Tensor] = None,
    ranking: Optional[Sequence[int]] = None,
) -> NmsResult:
    """Matrix NMS computed pair by pair in Python, from the paper.

    1. Rank the masks by descending score (a stable sort, ties in input
       order, unless ``ranking`` gives the order); keep the first
       ``nms_pre`` if ``nms_pre > 0``.
    2. For each ranked pair of one label, ``iou = inter / union`` (0 when
       both masks are empty), rounded to float32 as the implementation
       stores it, so that the comparison does not rest on that rounding:
       the linear kernel divides by ``1 - comp``, which magnifies it (up
       to 1.7e-5 relative in one ratio of 24x24 masks, more than RTOL).
       Masks of different labels never decay each other.
    3. ``comp[i]``: the largest IoU of ``i`` with a higher-ranked mask of
       its label, 0 if none.
    4. ``decay[j]``: the smallest :func:`decay_ratio` over the higher-ranked
       masks ``i`` of its label, at most 1 (1 when there is none); the new
       score is ``score[j] * decay[j]``, in float64.
    5. If ``filter_thr > 0``, drop new scores ``< filter_thr`` (the
       implementation keeps ``>= filter_thr``).
    6. Rank by new score, descending (stable: ties keep the order of
       step 1); keep the first ``max_num`` if ``max_num > 0``.

    Returns:
        tuple[Tensor]: ``(scores, labels, masks, keep_inds)`` as
        :func:`matrix_nms` returns them, but float64 scores.
    """
    score_of: List[float] = scores.double().tolist()
    label_of: List[int] = labels.tolist()
    if ranking is None:
        ranking = sorted(range(len(score_of)), key=lambda i: -score_of[i])
    candidates = list(ranking)
    if 0 < nms_pre < len(candidates):
        candidates = candidates[:nms_pre]

    pixels = {i: masks[i].double().flatten().numpy() for i in candidates}
    if mask_area is None:
        area_of = {i: float(pixels[i].sum()) for i in candidates}
    else:
        area_of = {i: float(mask_area[i]) for i in candidates}

    def iou(first: int, second: int) -> float:
        inter = float(np.dot(pixels[first], pixels[second]))
        union = area_of[first] + area_of[second] - inter
        if union <= 0:
            return 0.0
        return float(np.float32(inter) / np.float32(union))

    # same_label_above[j]: the candidates ranked above j with j's label.
    same_label_above = {
        j: [i for i in candidates[:rank] if label_of[i] == label_of[j]]
        for rank, j in enumerate(candidates)
    }
    pair_iou = {
        (i, j): iou(i, j) for j in candidates for i in same_label_above[j]
    }
    comp = {
        j: max((pair_iou[i, j] for i in same_label_above[j]), default=0.0)
        for j in candidates
    }
    new_scores = []
    for j in candidates:
        decay = 1.0
        for i in same_label_above[j]:
            ratio = decay_ratio(pair_iou[i, j], comp[i], kernel, sigma)
            if ratio is not None:
                decay = min(decay, ratio)
        new_scores.append((j, score_of[j] * decay))

    if filter_thr > 0:
        new_scores = [(j, s) for j, s in new_scores if s >= filter_thr]
    new_scores.sort(key=lambda pair: -pair[1])
    if 0 < max_num < len(new_scores):
        new_scores = new_scores[:max_num]
    keep = torch.tensor([j for j, _ in new_scores], dtype=torch.long)
    kept_scores = torch.tensor([s for _, s in new_scores], dtype=torch.float64)
    return kept_scores, labels[keep], masks[keep], keep


def is_close(value: float, target: float) -> bool:
    """Equal within the tolerance the scores are compared at."""
    return abs(value - target) <= ATOL + RTOL * abs(target)


def assert_matches_reference(
    case: NmsCase, ranking: Optional[Sequence[int]] = None
) -> None:
    """``matrix_nms`` gives the reference's result, up to the order of
    masks whose new scores tie within the tolerance.

    Examples where a decayed score lies within the tolerance of
    ``filter_thr`` (but not on it) are rejected: float32 and float64 may
    put it on either side.
    """
    threshold = case.options['filter_thr']
    if threshold > 0:
        unfiltered = case.reference(ranking, filter_thr=-1, max_num=-1)[0]
        assume(
            not any(
                0 < abs(s - threshold) <= ATOL + RTOL * threshold
                for s in unfiltered.tolist()
            )
        )
    expected = case.reference(ranking)
    # Every mask that passes the filter, so that ties across the max_num
    # cut can be told apart from mistakes.
    uncut = case.reference(ranking, max_num=-1)
    scores, labels, masks, keep = case.run()
    ref_scores, _, _, ref_keep = expected

    decayed = bool((ref_scores < case.scores[ref_keep].double()).any())
    event(f'reference decayed a kept score: {decayed}')
    assert len(keep) == len(ref_keep), (keep, ref_keep)
    torch.testing.assert_close(
        scores.double(), ref_scores, rtol=RTOL, atol=ATOL
    )
    passing = list(zip(uncut[3].tolist(), uncut[0].tolist()))
    for position, (got, want, want_score) in enumerate(
        zip(keep.tolist(), ref_keep.tolist(), ref_scores.tolist())
    ):
        if got != want:
            tied = {i for i, score in passing if is_close(score, want_score)}
            assert {got, want} <= tied, (
                f'position {position}: mask {got} kept where the reference '
                f'keeps mask {want} (score {want_score}), and they do not '
                'tie'
            )
    assert len(set(keep.tolist())) == len(keep), keep
    # keep matches ref_keep (up to ties), so these match the reference's.
    assert torch.equal(labels, case.labels[keep])
    assert torch.equal(masks, case.masks[keep])


# --------------------------------------------------------------------------
# Strategies
# --------------------------------------------------------------------------


@st.composite
def binary_masks(draw: st.DrawFn, num_masks: int) -> np.ndarray:
    """(num_masks, H, W) bool masks, H and W in 4..24: boxes, noise, empty
    masks, copies of earlier masks and near-copies (a few pixels
    flipped)."""
    height = draw(st.integers(MIN_SIDE, MAX_SIDE))
    width = draw(st.integers(MIN_SIDE, MAX_SIDE))
    masks = np.zeros((num_masks, height, width), dtype=bool)
    for index in range(num_masks):
        kinds = MASK_KINDS if index else ('box', 'noise', 'empty')
        kind = draw(st.sampled_from(kinds))
        if kind == 'box':
            top = draw(st.integers(0, height - 1))
            bottom = draw(st.integers(top + 1, height))
            left = draw(st.integers(0, width - 1))
            right = draw(st.integers(left + 1, width))
            masks[index, top:bottom, left:right] = True
        elif kind in ('copy', 'near_copy'):
            masks[index] = masks[draw(st.integers(0, index - 1))]
            if kind == 'near_copy':
                pixels = st.tuples(
                    st.integers(0, height - 1), st.integers(0, width - 1)
                )
                for row, col in draw(st.lists(pixels, max_size=MAX_FLIPS)):
                    masks[index, row, col] = not masks[index, row, col]
        elif kind == 'noise':
            seed = draw(st.integers(0, 2**32 - 1))
            density = draw(st.sampled_from((0.2, 0.5, 0.8)))
            rng = np.random.default_rng(seed)
            masks[index] = rng.random((height, width)) < density
    return masks


@st.composite
def typed_masks(draw: st.DrawFn, binary: np.ndarray) -> Tensor:
    """``binary`` as bool, uint8 or float 0/1 masks, or as soft float masks
    (each pixel times one of 1/16, 2/16, ..., 1, the same for every mask,
    so near-copies stay near-copies)."""
    dtype_name = draw(st.sampled_from(MASK_DTYPES))
    if dtype_name == 'bool':
        return torch.from_numpy(binary.copy())
    if dtype_name == 'uint8':
        return torch.from_numpy(binary.astype(np.uint8))
    if dtype_name == 'float01':
        return torch.from_numpy(binary.astype(np.float32))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    levels = rng.integers(1, SOFT_LEVELS + 1, size=binary.shape[1:])
    return torch.from_numpy((binary * levels / SOFT_LEVELS).astype(np.float32))


def score_lists(num_masks: int, ties: str) -> st.SearchStrategy:
    """Integer scores in 1..1000 (to be divided by 1000): ``'distinct'``,
    ``'few'`` (four values, many ties) or ``'equal'``."""
    if ties == 'distinct':
        return st.lists(
            st.integers(1, SCORE_STEPS),
            min_size=num_masks,
            max_size=num_masks,
            unique=True,
        )
    if ties == 'few':
        return st.lists(
            st.sampled_from((250, 500, 750, 1000)),
            min_size=num_masks,
            max_size=num_masks,
        )
    return st.integers(1, SCORE_STEPS).map(lambda step: [step] * num_masks)


@st.composite
def nms_cases(
    draw: st.DrawFn, ties: Optional[str] = None, max_masks: int = MAX_MASKS
) -> NmsCase:
    """Masks, labels (1 to 3 classes), scores in (0, 1] and options.

    Args:
        ties (str, optional): How scores tie (see :func:`score_lists`);
            any of the three if not given.
        max_masks (int): Most masks drawn.
    """
    num_masks = draw(st.integers(0, max_masks))
    masks = draw(typed_masks(draw(binary_masks(num_masks))))
    num_classes = draw(st.integers(1, 3))
    labels = torch.tensor(
        draw(
            st.lists(
                st.integers(0, num_classes - 1),
                min_size=num_masks,
                max_size=num_masks,
            )
        ),
        dtype=torch.long,
    )
    if ties is None:
        ties = draw(st.sampled_from(('distinct', 'few', 'equal')))
    scores = (
        torch.tensor(draw(score_lists(num_masks, ties)), dtype=torch.float32)
        / SCORE_STEPS
    )
    limits = st.one_of(st.just(-1), st.integers(0, MAX_MASKS + 2))
    mask_area = masks.float().sum((1, 2)) if draw(st.booleans()) else None
    options = dict(
        filter_thr=draw(st.sampled_from(FILTER_THRESHOLDS)),
        nms_pre=draw(limits),
        max_num=draw(limits),
        kernel=draw(st.sampled_from(KERNELS)),
        sigma=draw(st.floats(0.25, 8.0, width=32)),
        mask_area=mask_area,
    )
    return NmsCase(masks, labels, scores, options)


# --------------------------------------------------------------------------
# Hand-made examples
# --------------------------------------------------------------------------


def make_case(
    masks: Tensor,
    labels: Sequence[int],
    scores: Sequence[float],
    **options: Any,
) -> NmsCase:
    """An :class:`NmsCase` with the defaults of :func:`matrix_nms` for the
    options not given."""
    defaults = dict(
        filter_thr=-1,
        nms_pre=-1,
        max_num=-1,
        kernel='gaussian',
        sigma=2.0,
        mask_area=None,
    )
    return NmsCase(
        masks,
        torch.tensor(labels, dtype=torch.long),
        torch.tensor(scores, dtype=torch.float32),
        {**defaults, **options},
    )


def exact_threshold_case() -> NmsCase:
    """An undecayed score exactly on ``filter_thr`` (kept: ``>=``) and its
    duplicate decayed to 0 by the linear kernel (dropped)."""
    masks = torch.zeros(2, 6, 6, dtype=torch.bool)
    masks[:, 1:4, 2:5] = True
    return make_case(
        masks, [0, 0], [0.5, 0.25], filter_thr=0.5, kernel='linear'
    )


def duplicates_case(soft: bool) -> NmsCase:
    """Three exact duplicates of one class and a mask overlapping them,
    linear kernel: the second duplicate (``comp == 1``) gives 0/0 for the
    third and x/0 for the fourth. With ``soft`` the fourth mask is soft
    and all take the dense path, otherwise the sparse one."""
    masks = torch.zeros(4, 6, 6)
    masks[:3, 1:4, 1:4] = 1.0
    masks[3, 2:6, 2:6] = 0.5 if soft else 1.0
    return make_case(
        masks, [1, 1, 1, 1], [0.9, 0.8, 0.7, 0.6], kernel='linear'
    )


def many_equal_scores_case() -> NmsCase:
    """20 near-identical masks of one class with one score: more than 16
    ties, where torch.sort (not stable on CPU) may reorder them."""
    masks = torch.zeros(20, 8, 8, dtype=torch.bool)
    masks[:, 2:7, 1:6] = True
    for index in range(20):
        masks[index, index % 8, index // 8] ^= True
    return make_case(masks, [0] * 20, [0.5] * 20, kernel='linear')


NO_MASKS = make_case(torch.zeros(0, 5, 7, dtype=torch.bool), [], [])
ONE_MASK = make_case(torch.ones(1, 5, 7), [2], [0.3], kernel='linear')

# --------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------


@property_settings(150)
@given(case=nms_cases())
def test_scores_never_grow(case: NmsCase) -> None:
    """Every kept mask's score is at most its input score."""
    scores, _, _, keep = case.run()
    assert torch.all(scores <= case.scores[keep]), (scores, case.scores[keep])


@property_settings(150)
@given(case=nms_cases())
def test_output_sorted_by_score(case: NmsCase) -> None:
    """Kept scores are non-increasing (NaN fails the comparison)."""
    scores = case.run()[0]
    assert torch.all(scores[:-1] >= scores[1:]), scores


@property_settings(150)
@given(case=nms_cases())
def test_at_most_max_num_kept(case: NmsCase) -> None:
    """At most ``max_num`` (when > 0), ``nms_pre`` (when > 0) and the input
    count are kept, and all four outputs have that length."""
    result = case.run()
    kept = len(result[3])
    assert [len(t) for t in result] == [kept] * 4
    assert kept <= len(case.scores)
    for limit in (case.options['max_num'], case.options['nms_pre']):
        if limit > 0:
            assert kept <= limit, (kept, case.options)


@property_settings(300)
@given(case=nms_cases(ties='distinct'))
@example(case=exact_threshold_case())
@example(case=duplicates_case(soft=True))
@example(case=duplicates_case(soft=False))
def test_matches_reference(case: NmsCase) -> None:
    """Distinct input scores: same result as the reference."""
    assert_matches_reference(case)


@property_settings(150)
@given(case=nms_cases(ties='few') | nms_cases(ties='equal'))
@example(case=many_equal_scores_case())
def test_tied_scores_match_reference_given_same_ranking(case: NmsCase) -> None:
    """Tied input scores: same result as the reference ranked like
    ``matrix_nms`` ranks.

    Matrix NMS is only defined up to the order of tied scores, and
    ``torch.sort`` (not stable on CPU beyond 16 elements) picks it, so the
    reference is handed ``torch.sort``'s order.
    """
    ranking = torch.sort(case.scores, descending=True)[1].tolist()
    assert_matches_reference(case, ranking)


@property_settings(60)
@given(case=nms_cases(max_masks=1) | nms_cases(ties='equal'))
@example(case=NO_MASKS)
@example(case=ONE_MASK)
@example(case=many_equal_scores_case())
def test_degenerate_inputs_give_well_formed_outputs(case: NmsCase) -> None:
    """0 masks, 1 mask or all-equal scores: no error, outputs of the input
    dtypes and consistent shapes; a lone mask keeps its score, and with
    equal scores the top-ranked mask is never decayed."""
    scores, labels, masks, keep = case.run()
    num_kept = len(keep)
    assert scores.shape == (num_kept,) and scores.dtype == torch.float32
    assert labels.shape == (num_kept,) and labels.dtype == torch.long
    assert masks.shape == (num_kept, *case.masks.shape[1:])
    assert masks.dtype == case.masks.dtype
    assert keep.shape == (num_kept,) and keep.dtype == torch.long
    assert num_kept <= len(case.scores)
    assert torch.isfinite(scores).all(), scores
    threshold = case.options['filter_thr']
    if len(case.scores) and torch.all(case.scores == case.scores[0]):
        common = case.scores[0]
        if threshold <= common:  # the undecayed top mask passes
            assert num_kept >= 1 and scores[0] == common, (scores, common)
            if len(case.scores) == 1:
                assert keep.tolist() == [0]
                assert torch.equal(masks, case.masks)
