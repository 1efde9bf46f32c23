"""Packed integer checkpoint: a trained candidate's weights stored at their bit-widths.

A trained :class:`~nasco.evo.train.builder.CandidateNet` becomes a list of
:class:`DeployLayer` — its conv/linear layers in execution order with BatchNorm folded in —
and that list is written to one file. Folding is exact on the integer codes: weight
quantization is symmetric per output channel (``w ≈ q·s``), so BatchNorm's per-channel
multiplier ``m = γ/√(σ²+ε)`` folds into the scale (``s' = |s·m|``, the sign of ``m`` into the
codes, which stay in the narrow range) and its shift into a bias ``β − μ·m``. What is stored
per layer is then exactly what the ``size`` objective counts (:mod:`nasco.kernels.cost`):
``w_bits`` per kept weight, one float32 bias per output channel, one float32 scale per output
channel of a quantized layer — plus each quantized input's activation scale and zero point
(8 bytes, not in the objective) and the byte padding that starts every layer's codes on a
byte (< 1 byte per layer).

File format — the safetensors layout (https://github.com/huggingface/safetensors; the
``safetensors`` library reads it, nasco does not need it): an 8-byte little-endian header
length N, N bytes of JSON header, then the raw little-endian tensors back to back. No pickle.

==================  =====  ==========================================================
tensor              dtype  content
==================  =====  ==========================================================
``codes``           U8     every quantized layer's codes ``q − qmin`` as unsigned
                           ``w_bits``-bit integers, packed least significant bit first,
                           each layer starting on a byte, layers in execution order
``scales``          F32    per-output-channel scales of the quantized layers (BN folded)
``biases``          F32    per-output-channel biases of every layer (BN folded)
``floats``          F32    weights of float (32-bit) layers, BN folded
``act_scales``      F32    input scale of every layer with ``a_bits`` < 32
``act_zero_points`` I32    its zero point (unsigned range ``[0, 2^a_bits − 1]``)
==================  =====  ==========================================================

The header's ``__metadata__["nasco"]`` is a JSON document: format version, genome, genome hash
and space id (the export folder's ``genome.json`` holds the space), and one row per layer —
name, kind, weight shape, stride, groups, bit-widths, ReLU6 and residual flags (columns
``layer_columns``) — enough to rebuild the network without nasco. Weight bit-widths 2–16 are
stored; codes are int16 in memory.
"""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from nasco.evo.errors import NascoError
from nasco.evo.space.genome import as_genomes, genome_hash
from nasco.evo.space.layout import GenomeLayout
from nasco.evo.train.builder import CandidateNet, ConvUnit, QuantLinear
from nasco.evo.train.quant import act_qparams_torch
from nasco.kernels.quant import MIN_SCALE, weight_qrange
from nasco.kernels.tables import BIAS_BITS, FLOAT_BITS, SCALE_BITS

PACKED_FILE = "model.packed"
FORMAT_VERSION = 1
_DTYPES = {"U8": np.uint8, "F32": np.float32, "I32": np.int32}


class PackedFileError(NascoError, ValueError):
    """A packed checkpoint is unreadable, of another format version, or inconsistent."""


@dataclass
class DeployLayer:
    """One conv/linear layer of a deployable network, BatchNorm folded in.

    Attributes:
        name: module path in the torch network (``stem``, ``blocks.0.expand``, …, ``classifier``).
        kind: ``conv``, ``depthwise`` or ``linear``.
        shape: weight shape, (C_out, C_in/groups, k, k) or (C_out, C_in).
        w_bits, a_bits: weight and input-activation bit-widths (32: float).
        codes: int16 weight codes in ``weight_qrange(w_bits)``, shape ``shape`` (quantized layers).
        scale: float32 (C_out,) per-channel scale of the codes (quantized layers).
        weight: float32 weight of shape ``shape`` (float layers).
        bias: float32 (C_out,).
        act_scale, act_zero_point: input quantization (``a_bits`` < 32).
        relu6: a ReLU6 follows the layer.
        residual: the input of this layer's block is added to its output (projection layers).
    """

    name: str
    kind: str
    shape: tuple[int, ...]
    stride: int
    groups: int
    w_bits: int
    a_bits: int
    bias: np.ndarray
    relu6: bool
    residual: bool = False
    codes: np.ndarray | None = None
    scale: np.ndarray | None = None
    weight: np.ndarray | None = None
    act_scale: float | None = None
    act_zero_point: int | None = None

    @property
    def quantized(self) -> bool:
        return self.w_bits < FLOAT_BITS

    def dequantized_weight(self) -> np.ndarray:
        """float32 weight (codes · scale, or the float weight), shape ``shape``."""
        if not self.quantized:
            return self.weight
        return self.codes.astype(np.float32) * self.scale.reshape((-1,) + (1,) * (len(self.shape) - 1))

    def size_bits(self) -> int:
        """Bits the ``size`` objective counts for this layer (weights, bias, scale)."""
        c_out, weights = self.shape[0], int(np.prod(self.shape))
        return weights * self.w_bits + c_out * BIAS_BITS + (c_out * SCALE_BITS if self.quantized else 0)


@dataclass
class PackedModel:
    """A deployable network: its layers plus the genome and space it was built from."""

    layers: list[DeployLayer]
    meta: dict = field(default_factory=dict)

    def size_bits(self) -> int:
        """The ``size`` objective of this network (bits), from its stored layers."""
        return sum(layer.size_bits() for layer in self.layers)


def quantize_weight(w: torch.Tensor, bits: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Integer codes (int16, shape of ``w``) and float32 scales (C_out,) of per-channel fake quantization.

    ``codes · scale`` equals :func:`~nasco.evo.train.quant.fake_quant_weight` ``(w, bits)`` bit for
    bit (the same scale and ``round(w · (1/s))`` as torch's kernel).
    """
    qmin, qmax = weight_qrange(bits)
    w = w.detach().float()
    scale = (w.abs().flatten(1).amax(dim=1) / qmax).clamp_min(float(MIN_SCALE))
    shape = (-1,) + (1,) * (w.dim() - 1)
    codes = torch.clamp(torch.round(w * (1.0 / scale).view(shape)), qmin, qmax)
    return codes.to(torch.int16), scale


def _input_quant(quantizer, layer: DeployLayer) -> None:
    if quantizer.is_float:
        return
    if not bool(quantizer.calibrated):
        raise PackedFileError(f"{layer.name}: its input quantizer was never calibrated (an untrained network?)")
    scale, zero_point = act_qparams_torch(quantizer.running_min, quantizer.running_max, quantizer.bits)
    layer.act_scale, layer.act_zero_point = float(scale.item()), int(zero_point.item())


def _fold_unit(name: str, unit: ConvUnit, *, residual: bool) -> DeployLayer:
    conv, bn = unit.conv, unit.bn
    multiplier = (bn.weight.detach() / torch.sqrt(bn.running_var + bn.eps)).float()
    bias = (bn.bias.detach() - bn.running_mean * multiplier).float()
    kind = "depthwise" if conv.groups > 1 else "conv"
    layer = DeployLayer(name, kind, tuple(conv.weight.shape), conv.stride[0], conv.groups, conv.weight_quant.bits,
                        conv.act_quant.bits, bias.numpy(), relu6=isinstance(unit.act, torch.nn.ReLU6),
                        residual=residual)
    shape = (-1,) + (1,) * (conv.weight.dim() - 1)
    if layer.quantized:
        codes, scale = quantize_weight(conv.weight, layer.w_bits)
        sign = torch.where(multiplier < 0, -1, 1).to(torch.int16)
        layer.codes = (codes * sign.view(shape)).numpy()
        layer.scale = (scale * multiplier).abs().numpy()
    else:
        layer.weight = (conv.weight.detach().float() * multiplier.view(shape)).numpy()
    _input_quant(conv.act_quant, layer)
    return layer


def _linear(name: str, linear: QuantLinear) -> DeployLayer:
    layer = DeployLayer(name, "linear", tuple(linear.weight.shape), 1, 1, linear.weight_quant.bits,
                        linear.act_quant.bits, linear.bias.detach().float().numpy().copy(), relu6=False)
    if layer.quantized:
        codes, scale = quantize_weight(linear.weight, layer.w_bits)
        layer.codes, layer.scale = codes.numpy(), scale.numpy()
    else:
        layer.weight = linear.weight.detach().float().numpy().copy()
    _input_quant(linear.act_quant, layer)
    return layer


def deploy_layers(model: CandidateNet) -> list[DeployLayer]:
    """The layers of a slim, trained ``model`` in execution order, BatchNorm folded (eval statistics)."""
    model = model.cpu().eval()
    layers = [_fold_unit("stem", model.stem, residual=False)]
    for i, block in enumerate(model.blocks):
        layers += [_fold_unit(f"blocks.{i}.expand", block.expand, residual=False),
                   _fold_unit(f"blocks.{i}.depthwise", block.depthwise, residual=False),
                   _fold_unit(f"blocks.{i}.project", block.project, residual=block.residual)]
    layers.append(_fold_unit("head", model.head, residual=False))
    layers.append(_linear("classifier", model.classifier))
    return layers


def pack_codes(codes: np.ndarray, bits: int) -> np.ndarray:
    """Codes in ``weight_qrange(bits)`` (any shape) → uint8 bytes, ``bits`` per code, LSB first."""
    qmin = weight_qrange(bits)[0]
    unsigned = (codes.astype(np.int32).ravel() - qmin).astype(np.uint16)
    bit_planes = (unsigned[:, None] >> np.arange(bits, dtype=np.uint16)) & 1
    return np.packbits(bit_planes.astype(np.uint8).ravel(), bitorder="little")


def unpack_codes(data: np.ndarray, bits: int, count: int) -> np.ndarray:
    """Inverse of :func:`pack_codes`: ``count`` int16 codes."""
    bit_planes = np.unpackbits(data, count=count * bits, bitorder="little").reshape(count, bits)
    unsigned = bit_planes.astype(np.int32) @ (1 << np.arange(bits, dtype=np.int32))
    return (unsigned + weight_qrange(bits)[0]).astype(np.int16)


LAYER_COLUMNS = ("name", "kind", "shape", "stride", "groups", "w_bits", "a_bits", "relu6", "residual")


def _layer_row(layer: DeployLayer) -> list:
    return [list(value) if name == "shape" else value
            for name, value in ((name, getattr(layer, name)) for name in LAYER_COLUMNS)]


def save_packed(path: str | Path, layout: GenomeLayout, genome: np.ndarray, model: CandidateNet) -> PackedModel:
    """Fold and pack the trained slim ``model`` of ``genome`` into ``path``; returns what was written."""
    canonical = as_genomes(layout, genome)[0]
    packed = PackedModel(deploy_layers(model), {
        "format_version": FORMAT_VERSION, "genome": canonical.tolist(),
        "genome_hash": genome_hash(layout, canonical), "space_id": layout.space.space_id})
    write_packed(path, packed)
    return packed


def write_packed(path: str | Path, packed: PackedModel) -> None:
    """Write ``packed`` in the format of the module docstring."""
    quantized = [layer for layer in packed.layers if layer.quantized]
    floats = [layer.weight.ravel() for layer in packed.layers if not layer.quantized]
    inputs = [layer for layer in packed.layers if layer.a_bits < FLOAT_BITS]
    tensors = {
        "codes": np.concatenate([pack_codes(layer.codes, layer.w_bits) for layer in quantized] or
                                [np.zeros(0, np.uint8)]),
        "scales": np.concatenate([layer.scale for layer in quantized] or [np.zeros(0, np.float32)]),
        "biases": np.concatenate([layer.bias for layer in packed.layers]),
        "floats": np.concatenate(floats or [np.zeros(0, np.float32)]),
        "act_scales": np.array([layer.act_scale for layer in inputs], np.float32),
        "act_zero_points": np.array([layer.act_zero_point for layer in inputs], np.int32),
    }
    meta = {**packed.meta, "layer_columns": list(LAYER_COLUMNS),
            "layers": [_layer_row(layer) for layer in packed.layers]}
    header: dict = {"__metadata__": {"nasco": json.dumps(meta, separators=(",", ":"))}}
    offset, buffers = 0, []
    for name, array in tensors.items():
        dtype = next(key for key, value in _DTYPES.items() if value == array.dtype)
        data = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": dtype, "shape": [len(array)], "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        buffers.append(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # the buffer starts 8-byte aligned, as safetensors writes it
    Path(path).write_bytes(struct.pack("<Q", len(text)) + text + b"".join(buffers))


def _checked_count(shape: tuple, file_bytes: int) -> int:
    """Elements of a layer of ``shape``, checked before anything is allocated: positive integers whose
    product fits in the file (≥ 1 bit per weight)."""
    if not shape or not all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in shape):
        raise ValueError(f"shape {list(shape)[:8]}: allowed: positive integers")
    count = math.prod(shape)
    if count > 8 * file_bytes:
        raise ValueError(f"shape {list(shape)} declares {count:,} weights, more than a {file_bytes:,}-byte file holds")
    return count


def read_packed(path: str | Path) -> PackedModel:
    """Read a file written by :func:`write_packed`.

    Raises:
        PackedFileError: not such a file, another format version, or tensors that do not fit the layers.
    """
    raw = Path(path).read_bytes()
    try:
        (length,) = struct.unpack("<Q", raw[:8])
        header = json.loads(raw[8:8 + length])
        meta = json.loads(header.pop("__metadata__")["nasco"])
        buffer = raw[8 + length:]
        tensors = {name: np.frombuffer(buffer[spec["data_offsets"][0]:spec["data_offsets"][1]],
                                       dtype=np.dtype(_DTYPES[spec["dtype"]]).newbyteorder("<"))
                   for name, spec in header.items()}
    except (struct.error, ValueError, KeyError, TypeError) as err:
        raise PackedFileError(f"{path}: not a packed nasco checkpoint ({type(err).__name__}: {err})") from None
    if meta.get("format_version") != FORMAT_VERSION:
        raise PackedFileError(f"{path}: format_version {meta.get('format_version')!r} is not allowed; allowed: "
                              f"{FORMAT_VERSION}")
    cursor = dict.fromkeys(tensors, 0)

    def take(name: str, count: int) -> np.ndarray:
        start = cursor[name]
        cursor[name] = start + count
        if cursor[name] > len(tensors[name]):
            raise PackedFileError(f"{path}: tensor {name!r} is shorter than its layers need")
        return tensors[name][start:start + count]

    layers = []
    columns = meta.pop("layer_columns", None)
    if columns != list(LAYER_COLUMNS):
        raise PackedFileError(f"{path}: layer columns {columns} are not {list(LAYER_COLUMNS)}")
    for row in meta.pop("layers"):
        try:
            spec = dict(zip(LAYER_COLUMNS, row, strict=True))
            shape = tuple(spec["shape"])
            count = _checked_count(shape, len(raw))
        except (ValueError, TypeError, KeyError) as err:
            raise PackedFileError(f"{path}: layer {str(row)[:120]} is not valid ({err})") from None
        layer = DeployLayer(spec["name"], spec["kind"], shape, spec["stride"], spec["groups"], spec["w_bits"],
                            spec["a_bits"], take("biases", shape[0]).astype(np.float32), spec["relu6"],
                            spec["residual"])
        if layer.quantized:
            n_bytes = -(-count * layer.w_bits // 8)
            layer.codes = unpack_codes(take("codes", n_bytes), layer.w_bits, count).reshape(shape)
            layer.scale = take("scales", shape[0]).astype(np.float32)
        else:
            layer.weight = take("floats", count).astype(np.float32).reshape(shape)
        if layer.a_bits < FLOAT_BITS:
            layer.act_scale = float(take("act_scales", 1)[0])
            layer.act_zero_point = int(take("act_zero_points", 1)[0])
        layers.append(layer)
    leftover = [name for name, used in cursor.items() if used != len(tensors[name])]
    if leftover:
        raise PackedFileError(f"{path}: tensors {leftover} hold more values than the layers use")
    return PackedModel(layers, meta)


def payload_bytes(path: str | Path) -> tuple[int, int]:
    """(tensor bytes, header bytes incl. the 8-byte length) of a packed file."""
    raw = Path(path).read_bytes()
    (length,) = struct.unpack("<Q", raw[:8])
    return len(raw) - 8 - length, 8 + length
