"""Bad spaces and shapes raise SpaceError naming the field, the value and what is allowed."""

from __future__ import annotations

import numpy as np
import pytest

from nasco.evo import SpaceError, default_space, dump_space, load_space, space_from_dict
from nasco.evo.space.mobilenet import CompressionSpec, SearchSpace, StageSpec


def _base() -> dict:
    return {
        "input_shape": [1, 28, 28],
        "num_classes": 10,
        "stages": [{"stride": 1, "depth": [1, 2], "width": [16, 24]},
                   {"stride": 2, "depth": [1, 2], "width": [32]}],
    }


def test_minimal_dict_builds():
    space = space_from_dict(_base())
    assert len(space.stages) == 2 and space.stages[0].kernel == (3, 5)


@pytest.mark.parametrize(("edit", "pattern"), [
    (lambda d: d.update(colour="red"), r"space: unknown key 'colour'; allowed keys: \[.*'input_shape'"),
    (lambda d: d["stages"][1].update(widht=[3]), r"stages\[1\]: unknown key 'widht'; allowed keys"),
    (lambda d: d.update(stem={"width": [8], "kernal": 3}), r"stem: unknown key 'kernal'"),
    (lambda d: d.update(num_classes="ten"), r"num_classes: 'ten' is not allowed; allowed: integers ≥ 2"),
    (lambda d: d["stages"][0].update(width=16), r"stages\[0\]\.width: 16 is a int; allowed: a list"),
    (lambda d: d["stages"][0].update(width=[16.5]), r"stages\[0\]\.width: 16.5 is a float; allowed: integers 1\.\."),
    (lambda d: d["stages"][0].update(depth=[]), r"stages\[0\]\.depth: must be a non-empty list"),
    (lambda d: d["stages"][0].update(depth=[2, 1]), r"stages\[0\]\.depth: \[2, 1\] must be strictly increasing"),
    (lambda d: d["stages"][1].update(kernel=[3, 4]), r"stages\[1\]\.kernel: value 4 is not allowed; allowed: odd"),
    (lambda d: d["stages"][1].update(stride=3), r"stages\[1\]\.stride: 3 is not allowed; allowed: 1 or 2"),
    (lambda d: d["stages"][0].pop("depth"), r"stages\[0\]: missing key 'depth'"),
    (lambda d: d.pop("num_classes"), r"space: missing key 'num_classes'"),
    (lambda d: d.update(compression={"weight_bits": [4, 8, 1]}), r"compression\.weight_bits: value 1"),
    (lambda d: d.update(compression={"prune_ratios": [0.0, 1.0]}), r"prune_ratios: value 1\.0 .* \[0, 1\)"),
    (lambda d: d.update(compression={"act_bits": [8, 4]}), r"compression\.act_bits: \[8, 4\] must be strictly"),
    (lambda d: d.update(head={"width": [64], "classifier_act_bits": [true_]}), r"head\.classifier\.act_bits: True"),
    (lambda d: d.update(input_shape=[1, 28]), r"input_shape: \(1, 28\) is not allowed; allowed: three positive"),
    (lambda d: d.update(stages=[]), r"stages: \(\) is not allowed; allowed: a list of 1\.\.64 stages"),
])
def test_bad_space_raises_naming_field(edit, pattern):
    data = _base()
    edit(data)
    with pytest.raises(SpaceError, match=pattern):
        space_from_dict(data)


true_ = True


def test_too_many_stride_two_stages_for_8x8():
    stages = tuple(StageSpec(stride=2, depth=(1,), width=(8,)) for _ in range(5))
    with pytest.raises(SpaceError, match=r"stages\[3\]\.stride: 2 cannot serve input_shape \[1, 8, 8\]: .* 1×1"):
        SearchSpace(input_shape=(1, 8, 8), num_classes=10, stages=stages)


def test_224_space_cannot_serve_8x8():
    big = default_space((3, 224, 224), 10)
    data = big.to_dict()
    data["input_shape"] = [1, 8, 8]
    with pytest.raises(SpaceError, match=r"stride: 2 cannot serve input_shape \[1, 8, 8\]"):
        space_from_dict(data)


def test_default_space_rejects_tiny_input():
    with pytest.raises(SpaceError, match=r"input_shape: \[1, 2, 2\] is too small .* H, W ≥ 4"):
        default_space((1, 2, 2), 10)


def test_costs_beyond_int64_are_refused_not_wrapped():
    """BitOps of a huge input used to wrap around int64 silently in the Numba kernels."""
    from nasco.evo import compile_space, genome_costs, sample_genomes

    with pytest.raises(SpaceError, match=r"input 3x4000000x4000000: .* bitops = 2.86e\+20, beyond the int64 range"):
        compile_space(default_space((3, 4_000_000, 4_000_000), 10))
    layout = compile_space(default_space((3, 60_000, 60_000), 10))  # the largest network fits: no cost wraps
    assert (genome_costs(layout, sample_genomes(layout, np.random.default_rng(0), 200)) > 0).all()


def test_dataclass_validation_without_toml():
    with pytest.raises(SpaceError, match=r"compression\.weight_bits: must be a non-empty list"):
        CompressionSpec(weight_bits=())


def test_load_space_errors(tmp_path):
    with pytest.raises(SpaceError, match="does not exist"):
        load_space(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("input_shape = [1, 8, 8\n")
    with pytest.raises(SpaceError, match="is not valid TOML"):
        load_space(bad)


@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 28, 28), (3, 32, 32), (3, 224, 224)])
def test_toml_round_trip(tmp_path, shape):
    space = default_space(shape, 7)
    path = tmp_path / "space.toml"
    path.write_text(dump_space(space))
    loaded = load_space(path)
    assert loaded == space and loaded.space_id == space.space_id


def test_fixed_genes_pin_choices_and_round_trip(tmp_path):
    from nasco.evo import compile_space
    from nasco.evo.space.genome import fixed_genome, pin_architecture

    layout = compile_space(default_space((1, 16, 16), 10))
    genome = fixed_genome(layout, arch="max", weight_bits=8, act_bits=8)
    pinned = pin_architecture(layout, genome)
    pinned_layout = compile_space(pinned)
    assert pinned_layout.gene_names == layout.gene_names
    for name, choices, g in zip(layout.gene_names, layout.gene_choices, genome, strict=True):
        after = pinned_layout.gene_choices[pinned_layout.gene_names.index(name)]
        assert after == (choices if name.rsplit(".", 1)[1] in ("prune", "weight_bits", "act_bits")
                         else (choices[g],))
    path = tmp_path / "pinned.toml"
    path.write_text(dump_space(pinned))
    assert load_space(path) == pinned and load_space(path).space_id == pinned.space_id
    assert pinned.space_id != layout.space.space_id
    # a space without pins keeps the id it had before ``fixed`` existed (archives are keyed by it)
    assert "fixed" not in layout.space.to_dict()


@pytest.mark.parametrize(("fixed", "pattern"), [
    ({"stages[0].widht": 16}, r"fixed\.stages\[0\]\.widht: no such gene in this space; did you mean "
                              r"'stages\[0\]\.width'\?"),
    ({"stages[0].width": 20}, r"fixed\.stages\[0\]\.width: 20 is not allowed; allowed: one of its choices \[16, 24\]"),
    ({"stages[0].width": "16"}, r"fixed: 'stages\[0\]\.width' = '16' is not allowed"),
    ([16], r"fixed: \[16\] is not allowed; allowed: a table of gene name = value"),
])
def test_bad_fixed_genes_raise_naming_the_gene(fixed, pattern):
    from nasco.evo import compile_space

    with pytest.raises(SpaceError, match=pattern):
        compile_space(space_from_dict({**_base(), "fixed": fixed}))


def test_genes_encodings_fit_the_gene():
    """Strings are unordered names: one-hot (one column for two choices); numbers are ordinal; a declared
    encoding overrides; declaring none keeps the space id of spaces written before encodings existed."""
    from nasco.evo.errors import SpaceError
    from nasco.evo.space.kinds import compile_any
    from nasco.evo.space.toml_io import space_from_dict

    genes = {"op": ["skip", "conv", "pool"], "act": ["relu", "gelu"], "width": [16, 32, 64], "one": [1]}
    plain = compile_any(space_from_dict({"kind": "genes", "genes": genes}))
    assert plain.encodings == ("onehot", "onehot", "ordinal", "ordinal")
    assert plain.space.space_id == "1b0c4079d946006f"  # the id this space had before encodings existed
    X = plain.features(np.array([[0, 1, 2, 0], [2, 0, 1, 0]]))
    np.testing.assert_array_equal(X, [[1, 0, 0, 1, 1.0], [0, 0, 1, 0, 0.5]])  # op one-hot, act, width/2
    declared = compile_any(space_from_dict({"kind": "genes", "genes": genes,
                                            "encoding": {"op": "ordinal", "width": "onehot"}}))
    assert declared.encodings == ("ordinal", "onehot", "onehot", "ordinal")
    np.testing.assert_array_equal(declared.features(np.array([[2, 1, 0, 0]])), [[1.0, 1, 1, 0, 0]])
    assert declared.space.space_id != plain.space.space_id  # another surrogate view, another space
    assert "encoding" not in plain.space.to_dict()
    for bad in ({"nope": "onehot"}, {"op": "binary"}):
        with pytest.raises(SpaceError, match=r"encoding\.\w+: .* is not allowed; allowed: a gene of the space"):
            space_from_dict({"kind": "genes", "genes": genes, "encoding": bad})


def test_nasco_space_shows_each_genes_encoding(tmp_path, capsys):
    from nasco.evo.cli.main import main

    path = tmp_path / "genes.toml"
    path.write_text('kind = "genes"\n[genes]\nop = ["a", "b", "c"]\nwidth = [8, 16]\nfixed = [1]\n'
                    '[encoding]\nwidth = "onehot"\n', encoding="utf-8")
    assert main(["space", "--space", str(path)]) == 0
    rows = {line.split()[1]: line.split()[-1] for line in capsys.readouterr().out.splitlines()
            if line.strip()[:1].isdigit()}
    assert rows == {"op": "onehot", "width": "onehot", "fixed": "fixed"}
