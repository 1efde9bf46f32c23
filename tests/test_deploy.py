"""Deployable exports: packed integer checkpoint (bit-exact round trips, size), QDQ and float ONNX graphs."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch

from nasco.evo import compile_space, default_space
from nasco.evo.errors import NascoError
from nasco.evo.results.deploy import check_onnx
from nasco.evo.space.genome import costs_dict, decode, sample_genomes
from nasco.evo.train.datasets import load_task
from nasco.evo.train.packed import (
    PackedFileError,
    pack_codes,
    payload_bytes,
    quantize_weight,
    read_packed,
    save_packed,
    unpack_codes,
)
from nasco.evo.train.qdq import float_model, qdq_model
from nasco.evo.train.quant import ActQuantizer, fake_quant_weight
from nasco.evo.train.trainer import TrainConfig, train_candidate
from nasco.kernels.quant import weight_qrange

needs_onnxruntime = pytest.mark.skipif(importlib.util.find_spec("onnxruntime") is None,
                                       reason="the onnx extra is not installed (pip install 'nasco[onnx]')")


@pytest.mark.parametrize("bits", [2, 3, 4, 5, 6, 7, 8, 12, 16])
def test_codes_round_trip_bit_exact_per_channel(bits):
    rng = np.random.default_rng(bits)
    w = torch.from_numpy((rng.normal(size=(7, 5, 3, 3)) * rng.uniform(0.01, 3, (7, 1, 1, 1))).astype(np.float32))
    codes, scale = quantize_weight(w, bits)
    assert scale.shape == (7,) and len(np.unique(scale.numpy())) == 7  # one scale per output channel
    qmin, qmax = weight_qrange(bits)
    assert codes.min() >= qmin and codes.max() <= qmax and codes.abs().max() == qmax  # the range is used
    dequantized = codes.float() * scale.view(-1, 1, 1, 1)
    assert torch.equal(dequantized, fake_quant_weight(w, bits))  # bit for bit
    data = pack_codes(codes.numpy(), bits)
    assert len(data) == -(-w.numel() * bits // 8)  # bits per weight, one byte boundary
    assert np.array_equal(unpack_codes(data, bits, w.numel()).reshape(w.shape), codes.numpy())


@pytest.fixture(scope="module")
def trained():
    """(layout, task, genome, model) of a mixed-precision digits candidate trained 2 epochs, one BN γ negated."""
    torch.set_num_threads(1)
    task = load_task("digits", seed=0)
    layout = compile_space(default_space(task.input_shape, task.num_classes))
    genomes = sample_genomes(layout, np.random.default_rng(5), 40)
    tables = [decode(layout, g) for g in genomes]
    mixed = [len(set(t.column("w_bits")) | set(t.column("a_bits"))) * t.column("residual").any() for t in tables]
    genome = genomes[int(np.argmax(mixed))]  # the most mixed bit-widths of 40 random genomes with a residual block
    result, model = train_candidate(layout, genome, task, TrainConfig(epochs=2), seed=0)
    assert result.status == "ok", result.reason
    with torch.no_grad():
        model.blocks[0].expand.bn.weight[0] *= -1  # a negative BatchNorm scale folds into the codes' sign
    return layout, task, genome, model.eval()


def _images(task, n=400):
    x, y = next(task.test.batches(n))
    return task.normalize(x), y


def test_packed_checkpoint_holds_the_fake_quantized_network(trained, tmp_path):
    layout, _, genome, model = trained
    path = tmp_path / "model.packed"
    written = save_packed(path, layout, genome, model)
    packed = read_packed(path)
    assert packed.meta["genome"] == genome.tolist() and len(packed.layers) == len(written.layers)
    units = {"stem": model.stem, "head": model.head}
    units.update({f"blocks.{i}.{part}": getattr(b, part) for i, b in enumerate(model.blocks)
                  for part in ("expand", "depthwise", "project")})
    assert {layer.w_bits for layer in packed.layers} & {2, 3, 4} and any(not lay.quantized for lay in packed.layers)
    for layer in packed.layers:
        if layer.name == "classifier":  # no BatchNorm: the stored tensors are the fake-quantized weights
            expected = fake_quant_weight(model.classifier.weight.detach(), layer.w_bits) if layer.quantized \
                else model.classifier.weight.detach()
            assert np.array_equal(layer.dequantized_weight(), expected.numpy())
            continue
        conv, bn = units[layer.name].conv, units[layer.name].bn
        assert layer.shape == tuple(conv.weight.shape)
        if layer.quantized:  # integer codes bit-exact; BN's sign in the codes, its magnitude in the scale
            codes, scale = quantize_weight(conv.weight, layer.w_bits)
            sign = np.sign(bn.weight.detach().numpy()).astype(np.int16).reshape(-1, *[1] * (codes.dim() - 1))
            assert np.array_equal(layer.codes, codes.numpy() * sign)
            multiplier = (bn.weight / torch.sqrt(bn.running_var + bn.eps)).detach().abs()
            np.testing.assert_allclose(layer.scale, (scale * multiplier).numpy(), rtol=1e-6)
    # the size objective, counted from the stored layers, and the bytes really written
    objective = costs_dict(layout, genome)["size_bits"]
    assert packed.size_bits() == objective
    tensor_bytes, header_bytes = payload_bytes(path)
    act_params = 8 * sum(layer.act_scale is not None for layer in packed.layers)
    padding = sum(-(-layer.codes.size * layer.w_bits // 8) * 8 - layer.codes.size * layer.w_bits
                  for layer in packed.layers if layer.quantized)
    assert tensor_bytes * 8 == objective + 8 * act_params + padding
    assert path.stat().st_size == tensor_bytes + header_bytes


def _ort_logits(model_proto, x, *, optimise: bool):
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    if not optimise:
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = onnxruntime.InferenceSession(model_proto.SerializeToString(), options,
                                           providers=["CPUExecutionProvider"])
    return session.run(None, {"images": x.numpy()})[0]


@needs_onnxruntime
def test_qdq_graph_computes_the_fake_quantized_network(trained, tmp_path):
    layout, task, genome, model = trained
    save_packed(tmp_path / "m.packed", layout, genome, model)
    packed = read_packed(tmp_path / "m.packed")
    x, y = _images(task)
    with torch.no_grad():
        reference = model(x).numpy()
    proto = qdq_model(packed, task.input_shape)
    ops = {node.op_type for node in proto.graph.node}
    assert {"QuantizeLinear", "DequantizeLinear", "Conv", "Gemm", "Clip", "Add"} <= ops
    int4 = {init.name for init in proto.graph.initializer if init.data_type == 22}  # TensorProto.INT4
    assert {f"{layer.name}.weight.codes" for layer in packed.layers if 2 <= layer.w_bits <= 4} <= int4
    # without ONNX Runtime's rewrites the graph is nasco's fake quantization: equal to float rounding, except
    # where that rounding moves a value across a quantization step (rare)
    exact = np.abs(_ort_logits(proto, x, optimise=False) - reference).max(axis=1)
    assert np.mean(exact < 1e-3) >= 0.97, np.quantile(exact, [0.5, 0.97])
    # ONNX Runtime's rewrites (integer kernels and int32 biases for 8-bit layers only) keep the predictions
    optimised = _ort_logits(proto, x, optimise=True)
    assert np.mean(optimised.argmax(1) == reference.argmax(1)) >= 0.97
    assert np.median(np.abs(optimised - reference).max(axis=1)) < 0.05
    # the plain float graph is the same network with float activations
    for q in model.modules():
        if isinstance(q, ActQuantizer):
            q.bits, q.saved_bits = 32, q.bits
    try:
        with torch.no_grad():
            float_reference = model(x).numpy()
    finally:
        for q in model.modules():
            if isinstance(q, ActQuantizer):
                q.bits = q.saved_bits
    np.testing.assert_allclose(_ort_logits(float_model(packed, task.input_shape), x, optimise=True),
                               float_reference, atol=2e-4)
    check = check_onnx("qdq", proto.SerializeToString(), model, x, y, split="test")
    assert check.n == len(x) and set(check.latency_ms) == {1, 32} and min(check.latency_ms.values()) > 0
    assert abs(check.torch_accuracy - float((reference.argmax(1) == y.numpy()).mean())) < 1e-12


def test_bad_packed_files_and_bit_widths(trained, tmp_path):
    layout, task, genome, model = trained
    path = tmp_path / "m.packed"
    save_packed(path, layout, genome, model)
    raw = path.read_bytes()
    for name, data in (("garbage", b"not a checkpoint"), ("truncated", raw[:len(raw) // 2])):
        (tmp_path / name).write_bytes(data)
        with pytest.raises(PackedFileError, match=r"not a packed nasco checkpoint|shorter than"):
            read_packed(tmp_path / name)
    (tmp_path / "v2").write_bytes(raw.replace(b'format_version\\":1', b'format_version\\":2'))
    with pytest.raises(PackedFileError, match="format_version 2 is not allowed"):
        read_packed(tmp_path / "v2")
    packed = read_packed(path)
    packed.layers[0].w_bits = 1
    with pytest.raises(NascoError, match="1-bit weights have no QDQ representation"):
        qdq_model(packed, task.input_shape)
