"""The ``nasco`` command line: help, the space command, and clear errors (exit status 2)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from nasco.evo import compile_space, default_space, load_space
from nasco.evo.cli.main import main


def test_console_script_help_lists_subcommands():
    out = subprocess.run([sys.executable, "-c", "from nasco.evo.cli.main import main; main(['--help'])"],
                         capture_output=True, text=True)
    assert out.returncode == 0 and "space" in out.stdout


def test_space_summary(capsys):
    assert main(["space", "--input", "1x8x8", "--classes", "10"]) == 0
    out = capsys.readouterr().out
    assert "default-1x8x8" in out and "distinct networks" in out and "stages[2].blocks[2].kernel" in out


def test_space_genome_shows_table_and_costs(capsys):
    layout = compile_space(default_space((3, 32, 32), 10))
    genome = ",".join(["1"] * layout.n_genes)
    assert main(["space", "--input", "3x32x32", "--genome", genome]) == 0
    out = capsys.readouterr().out
    assert "MACs" in out and "classifier" in out


def test_space_random(capsys):
    assert main(["space", "--input", "1x28x28", "--random", "2", "--seed", "3"]) == 0
    assert capsys.readouterr().out.count("MACs") == 2


def test_space_toml_round_trips_through_file(capsys, tmp_path):
    assert main(["space", "--input", "3x32x32", "--toml"]) == 0
    path = tmp_path / "s.toml"
    path.write_text(capsys.readouterr().out)
    assert main(["space", "--space", str(path), "--random", "1"]) == 0
    assert "default-3x32x32" in capsys.readouterr().out


def test_space_pin_architecture_leaves_only_compression(capsys, tmp_path):
    from nasco.evo.space.genome import fixed_genome

    genome = fixed_genome(compile_space(default_space((1, 28, 28), 10)), arch="max")
    assert main(["space", "--genome", ",".join(map(str, genome)), "--pin-architecture", "--toml"]) == 0
    path = tmp_path / "pinned.toml"
    path.write_text(capsys.readouterr().out)
    assert main(["space", "--space", str(path), "--random", "1"]) == 0
    pinned = compile_space(load_space(path))
    arch = [c for n, c in zip(pinned.gene_names, pinned.gene_choices, strict=True)
            if n.rsplit(".", 1)[1] not in ("prune", "weight_bits", "act_bits")]
    assert all(len(c) == 1 for c in arch) and max(pinned.upper_bounds) > 0


@pytest.mark.parametrize(("argv", "message"), [
    (["space", "--input", "28x28"], "--input: '28x28' is not allowed"),
    (["space", "--genome", "1,2,3"], "genome length: 3 is not allowed"),
    (["space", "--genome", "1,a"], "allowed: integers"),
    (["space", "--random", "0"], "--random: 0 is not allowed"),
    (["space", "--space", "/nonexistent.toml"], "does not exist"),
    (["space", "--pin-architecture"], "--pin-architecture: needs --genome"),
])
def test_bad_input_exits_2_with_message(capsys, argv, message):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "error:" in err and message in " ".join(err.split())


def test_out_of_bounds_genome_message(capsys):
    layout = compile_space(default_space((1, 28, 28), 10))
    genome = np.zeros(layout.n_genes, dtype=int)
    genome[0] = 9
    assert main(["space", "--genome", ",".join(map(str, genome))]) == 2
    assert "gene 0 (stem.width)" in capsys.readouterr().err


def test_train_prints_progress_and_saves(capsys, tmp_path):
    from nasco.evo.train.candidate_io import load_candidate

    argv = ["train", "--epochs", "2", "--arch", "min", "--weight-bits", "4", "--prune", "0.25", "-o", str(tmp_path)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "epoch   2/2" in out and "status: ok" in out
    _, _, model = load_candidate(tmp_path)
    assert model.classifier.weight_quant.bits == 4


@pytest.mark.parametrize(("argv", "message"), [
    (["train", "--prune", "1.5"], "--prune: 1.5 is not allowed"),
    (["train", "--epochs", "0"], "epochs: 0 is not allowed"),
    (["train", "--task", "npz"], "npz: root is required"),
    (["train", "--task", "mnist", "--root", "/nonexistent"], "not found under root"),
])
def test_train_bad_input_exits_2(capsys, argv, message):
    assert main(argv) == 2
    assert message in " ".join(capsys.readouterr().err.split())


def test_space_of_the_sequence_kind_prints_attention_layers_round_trips_and_pins(capsys, tmp_path):
    assert main(["space", "--kind", "sequence", "--length", "24", "--vocab", "60", "--classes", "8",
                 "--random", "2"]) == 0
    out = capsys.readouterr().out
    assert "kind sequence" in out and "max_length 24" in out and out.count("MACs") == 2
    assert "stages[1].blocks[0].attention.prune" in out and "head(s)" in out and "ffn_down" in out
    assert main(["space", "--kind", "sequence", "--length", "24", "--vocab", "60", "--toml"]) == 0
    path = tmp_path / "text.toml"
    path.write_text(capsys.readouterr().out)
    from nasco.evo.space.kinds import compile_any

    sequence = compile_any(load_space(path))
    genome = ",".join(map(str, sequence.sample(np.random.default_rng(0), 1)[0]))
    assert main(["space", "--space", str(path), "--genome", genome, "--pin-architecture", "--toml"]) == 0
    pinned = tmp_path / "pinned.toml"
    pinned.write_text(capsys.readouterr().out)
    assert main(["space", "--space", str(pinned), "--random", "1"]) == 0
    assert "kind sequence" in capsys.readouterr().out
    layout = compile_any(load_space(pinned))
    assert all(len(c) == 1 for n, c in zip(layout.gene_names, layout.gene_choices, strict=True)
               if n.rsplit(".", 1)[1] not in ("prune", "weight_bits", "act_bits"))
