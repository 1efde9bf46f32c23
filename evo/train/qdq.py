"""ONNX graphs of a packed network: QDQ (quantized) and plain float.

``qdq_model`` writes ONNX's standard representation of a quantized network
(``QuantizeLinear``/``DequantizeLinear`` pairs, opset 21), which ONNX Runtime's graph
optimiser turns into integer kernels where it has them:

- weights: constant integer codes with a ``DequantizeLinear`` per output channel (axis 0,
  zero point 0, the folded scale of :mod:`~nasco.evo.train.packed`). Codes of 2–4-bit layers
  are ``int4`` (opset 21), of 5–8-bit layers ``int8``, of 9–16-bit layers ``int16``; a layer
  narrower than its type uses part of the type's range (a 2-bit layer the codes −1, 0, 1 of
  int4: stored and run as int4, with its own coarser values).
- activations: each quantized layer input passes ``QuantizeLinear`` → ``DequantizeLinear``
  per tensor with a ``uint8`` zero point (``uint16`` above 8 bits) — uint8 is the type ONNX
  Runtime's integer convolutions take. Below the type's width a ``Clip`` to the representable
  range ``[−z·s, (2^b − 1 − z)·s]`` keeps the codes in ``[0, 2^b − 1]``, so the graph computes
  nasco's fake quantization exactly (ONNX Runtime with graph optimisations off gives the
  torch logits to float rounding).

ONNX Runtime's optimiser fuses ``DequantizeLinear → Conv → QuantizeLinear`` into an integer
``QLinearConv`` for 8-bit weights and activations (when the output feeds one quantizer) and
quantizes a Conv's float bias to int32 at scale ``s_input·s_weight`` — its integer convention,
which it applies even where it then runs the layer in float. At 8 bits that step is fine; at 2–4
bits it is coarse enough to change predictions (digits, 3.9-bit weights: 2.8 points of accuracy),
so only 8-bit layers (weights and activations) carry their bias inside the Conv/Gemm; every other
layer adds its float bias after it (``Add``), exactly as trained, and runs dequantized in float.
- BatchNorm is folded into the weights, ReLU6 is ``Clip(0, 6)``, residual sums are ``Add``.

``float_model`` is the same network with dequantized float weights and no activation
quantization: the plain float graph a quantized export is timed against.
"""

from __future__ import annotations

import numpy as np

from nasco.evo.errors import NascoError
from nasco.evo.train.packed import DeployLayer, PackedModel
from nasco.kernels.quant import act_qrange
from nasco.kernels.tables import FLOAT_BITS

OPSET = 21
MIN_BITS, MAX_BITS = 2, 16


def _onnx():
    try:
        import onnx
    except ImportError:
        raise NascoError("ONNX export needs onnx and onnxruntime: pip install 'nasco[onnx]'") from None
    return onnx


class _Graph:
    """Accumulates nodes and initializers with unique names."""

    def __init__(self) -> None:
        self.onnx = _onnx()
        self.nodes: list = []
        self.initializers: list = []

    def constant(self, name: str, array: np.ndarray, data_type: int | None = None) -> str:
        if data_type is None:
            self.initializers.append(self.onnx.numpy_helper.from_array(array, name))
        else:  # int4: onnx packs the values itself
            self.initializers.append(self.onnx.helper.make_tensor(name, data_type, array.shape,
                                                                  array.ravel().tolist()))
        return name

    def node(self, op: str, inputs: list[str], output: str, **attributes) -> str:
        self.nodes.append(self.onnx.helper.make_node(op, inputs, [output], name=output, **attributes))
        return output


def _check_bits(layer: DeployLayer) -> None:
    for what, bits in (("weight", layer.w_bits), ("activation", layer.a_bits)):
        if not (MIN_BITS <= bits <= MAX_BITS or bits == FLOAT_BITS):
            raise NascoError(f"layer {layer.name}: {bits}-bit {what}s have no QDQ representation (ONNX integer "
                             f"types hold {MIN_BITS}–{MAX_BITS} bits; {FLOAT_BITS} is float)")


def _quantized_input(graph: _Graph, layer: DeployLayer, x: str) -> str:
    bits, scale, zero_point = layer.a_bits, np.float32(layer.act_scale), layer.act_zero_point
    name = f"{layer.name}.input"
    width, dtype = (8, np.uint8) if bits <= 8 else (16, np.uint16)
    if bits < width:
        qmax = act_qrange(bits)[1]
        x = graph.node("Clip", [x, graph.constant(f"{name}.min", np.array(-zero_point * scale, np.float32)),
                                graph.constant(f"{name}.max", np.array((qmax - zero_point) * scale, np.float32))],
                       f"{name}.clipped")
    s = graph.constant(f"{name}.scale", np.array(scale, np.float32))
    z = graph.constant(f"{name}.zero_point", np.array(zero_point, dtype))
    q = graph.node("QuantizeLinear", [x, s, z], f"{name}.q")
    return graph.node("DequantizeLinear", [q, s, z], f"{name}.dq")


def _quantized_weight(graph: _Graph, layer: DeployLayer) -> str:
    name = f"{layer.name}.weight"
    c_out = layer.shape[0]
    if layer.w_bits <= 4:
        int4 = graph.onnx.TensorProto.INT4
        codes = graph.constant(f"{name}.codes", layer.codes.astype(np.int8), int4)
        zero = graph.constant(f"{name}.zero_point", np.zeros(c_out, np.int8), int4)
    else:
        dtype = np.int8 if layer.w_bits <= 8 else np.int16
        codes = graph.constant(f"{name}.codes", layer.codes.astype(dtype))
        zero = graph.constant(f"{name}.zero_point", np.zeros(c_out, dtype))
    scale = graph.constant(f"{name}.scale", layer.scale.astype(np.float32))
    return graph.node("DequantizeLinear", [codes, scale, zero], name, axis=0)


def _integer_kernel(layer: DeployLayer) -> bool:
    """8-bit weights and activations: ONNX Runtime may run the layer as ``QLinearConv`` with an int32 bias."""
    return layer.w_bits == 8 and layer.a_bits == 8


def _layer(graph: _Graph, layer: DeployLayer, x: str, *, quantize: bool) -> str:
    if quantize:
        _check_bits(layer)
    if quantize and layer.a_bits < FLOAT_BITS:
        x = _quantized_input(graph, layer, x)
    if quantize and layer.quantized:
        weight = _quantized_weight(graph, layer)
    else:
        weight = graph.constant(f"{layer.name}.weight", layer.dequantized_weight().astype(np.float32))
    separate_bias = quantize and not _integer_kernel(layer)
    inputs = [x, weight] if separate_bias else [x, weight, graph.constant(f"{layer.name}.bias",
                                                                        layer.bias.astype(np.float32))]
    if layer.kind == "linear":
        y = graph.node("Gemm", inputs, f"{layer.name}.out", transB=1)
    else:
        k = layer.shape[-1]
        y = graph.node("Conv", inputs, f"{layer.name}.out", group=layer.groups, kernel_shape=[k, k],
                       strides=[layer.stride] * 2, pads=[k // 2] * 4)
    if separate_bias:  # (C,) for Gemm, (C, 1, 1) for a Conv's (N, C, H, W)
        shaped = layer.bias.astype(np.float32).reshape((-1,) + (1,) * (len(layer.shape) - 2))
        y = graph.node("Add", [y, graph.constant(f"{layer.name}.bias_channels", shaped)], f"{layer.name}.biased")
    if layer.relu6:
        y = graph.node("Clip", [y, graph.constant(f"{layer.name}.relu6_min", np.array(0.0, np.float32)),
                                graph.constant(f"{layer.name}.relu6_max", np.array(6.0, np.float32))],
                       f"{layer.name}.relu6")
    return y


def _model(packed: PackedModel, input_shape: tuple[int, ...], *, quantize: bool):
    graph = _Graph()
    onnx, helper = graph.onnx, graph.onnx.helper
    x, block_input = "images", "images"
    for layer in packed.layers:
        if layer.kind == "linear":
            pooled = graph.node("GlobalAveragePool", [x], "pooled")
            x = graph.node("Flatten", [pooled], "features", axis=1)
        if layer.name.endswith(".expand"):
            block_input = x
        x = _layer(graph, layer, x, quantize=quantize)
        if layer.residual:
            x = graph.node("Add", [x, block_input], f"{layer.name}.residual")
    graph.nodes.append(helper.make_node("Identity", [x], ["logits"], name="logits"))
    n_classes = packed.layers[-1].shape[0]
    inputs = [helper.make_tensor_value_info("images", onnx.TensorProto.FLOAT, ["batch", *input_shape])]
    outputs = [helper.make_tensor_value_info("logits", onnx.TensorProto.FLOAT, ["batch", n_classes])]
    name = f"nasco {packed.meta.get('genome_hash', '')} ({'QDQ' if quantize else 'float'})"
    model = helper.make_model(helper.make_graph(graph.nodes, name, inputs, outputs, graph.initializers),
                              opset_imports=[helper.make_opsetid("", OPSET)], producer_name="nasco")
    onnx.checker.check_model(model, full_check=True)
    return model


def qdq_model(packed: PackedModel, input_shape: tuple[int, ...]):
    """The QDQ ``onnx.ModelProto`` of ``packed`` for inputs (batch, *input_shape)."""
    return _model(packed, input_shape, quantize=True)


def float_model(packed: PackedModel, input_shape: tuple[int, ...]):
    """The plain float ``onnx.ModelProto`` of ``packed`` (dequantized weights, float activations)."""
    return _model(packed, input_shape, quantize=False)
