"""The default MobileNetV2/Once-for-All-like space, adapted to the input resolution.

Small inputs get fewer, narrower stages and fewer stride-2 layers, so that the final
feature map stays at least 2×2 (8×8 digits: 3 stages, one stride-2; 28×28 and 32×32:
4 stages, three stride-2; 64×64 and larger: stride-2 stem and 5 stages, as MobileNetV2).
"""

from __future__ import annotations

from nasco.evo.errors import SpaceError
from nasco.evo.space.mobilenet import HeadSpec, SearchSpace, StageSpec, StemSpec


def default_space(input_shape: tuple[int, int, int] = (1, 28, 28), num_classes: int = 10) -> SearchSpace:
    """The default space for ``input_shape`` = (C, H, W) and ``num_classes`` classes."""
    shape = tuple(input_shape)
    if len(shape) != 3 or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in shape):
        raise SpaceError(f"input_shape: {input_shape!r} is not allowed; allowed: three positive integers C, H, W")
    side = min(shape[1], shape[2])
    if side < 4:
        raise SpaceError(f"input_shape: {list(shape)} is too small for the default space; allowed: H, W ≥ 4")
    if side < 16:
        stem = StemSpec(width=(8, 16), stride=1)
        stages = (
            StageSpec(stride=1, depth=(1, 2), width=(8, 16), kernel=(3, 5), expansion=(2, 4)),
            StageSpec(stride=2, depth=(1, 2, 3), width=(16, 24, 32), kernel=(3, 5), expansion=(2, 4, 6)),
            StageSpec(stride=1, depth=(1, 2, 3), width=(32, 48, 64), kernel=(3, 5), expansion=(2, 4, 6)),
        )
        head = HeadSpec(width=(64, 128))
    elif side < 64:
        stem = StemSpec(width=(16, 24), stride=1)
        stages = (
            StageSpec(stride=1, depth=(1, 2), width=(16, 24), kernel=(3, 5), expansion=(3, 4, 6)),
            StageSpec(stride=2, depth=(1, 2, 3), width=(24, 32, 40), kernel=(3, 5), expansion=(3, 4, 6)),
            StageSpec(stride=2, depth=(2, 3, 4), width=(40, 48, 64), kernel=(3, 5, 7), expansion=(3, 4, 6)),
            StageSpec(stride=2, depth=(1, 2, 3), width=(64, 80, 96), kernel=(3, 5, 7), expansion=(3, 4, 6)),
        )
        head = HeadSpec(width=(256, 512))
    else:
        stem = StemSpec(width=(24, 32), stride=2)
        stages = (
            StageSpec(stride=2, depth=(2, 3, 4), width=(24, 32), kernel=(3, 5, 7), expansion=(3, 4, 6)),
            StageSpec(stride=2, depth=(2, 3, 4), width=(40, 48), kernel=(3, 5, 7), expansion=(3, 4, 6)),
            StageSpec(stride=2, depth=(2, 3, 4), width=(80, 96), kernel=(3, 5, 7), expansion=(3, 4, 6)),
            StageSpec(stride=1, depth=(2, 3, 4), width=(112, 136), kernel=(3, 5, 7), expansion=(3, 4, 6)),
            StageSpec(stride=2, depth=(2, 3, 4), width=(160, 192), kernel=(3, 5, 7), expansion=(3, 4, 6)),
        )
        head = HeadSpec(width=(1024, 1280))
    return SearchSpace(
        name=f"default-{shape[0]}x{shape[1]}x{shape[2]}",
        input_shape=shape, num_classes=num_classes, stem=stem, stages=stages, head=head,
    )
