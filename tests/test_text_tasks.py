"""Text tasks for the sequence space kind: loaders, tokens, bad input, training, a campaign and export."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch

from nasco.evo.errors import NascoError
from nasco.evo.space.genome import fixed_genome
from nasco.evo.space.kinds import compile_any, space_kind
from nasco.evo.train.datasets import DatasetError, load_task
from nasco.evo.train.text_data import LANGID_LISTS, LANGID_TEST, LANGID_TRAIN


def _halves_csv(path, n=400, seed=0):
    """Two classes told apart by their letters: a–m words vs n–z words (with a shared 'x' token)."""
    rng = np.random.default_rng(seed)
    lines = ["text,label"]
    for i in range(n):
        letters = "abcdefghijklm" if i % 2 == 0 else "nopqrstuvwyz"
        words = ["".join(rng.choice(list(letters), rng.integers(2, 6))) for _ in range(rng.integers(1, 4))]
        lines.append(f"{' '.join(words)},{'first' if i % 2 == 0 else 'second'}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_text_file_becomes_token_ids_ranked_by_frequency(tmp_path, capfd):
    path = tmp_path / "train.tsv"
    path.write_text("text\tlabel\nb a a\tpos\nc a\tneg\na b b a a a a a a\tpos\n", encoding="utf-8")
    task = load_task("text", root=path, max_length=4, tokenizer="word", val_fraction=0.34)
    assert task.vocabulary == ("a", "b", "c") and task.vocab_size == 5 and task.num_classes == 2
    assert task.input_shape == (4,) and task.name == "text@4-word" and task.is_text
    rows = {tuple(r.tolist()) for r in torch.cat([task.train.x, task.val.x])}
    assert rows == {(3, 2, 2, 0), (4, 2, 0, 0), (2, 3, 3, 2)}  # a=2, b=3, c=4; padded; the long one truncated
    assert "truncated 1 of 3 training" in capfd.readouterr().err
    chars = load_task("text", root=path, tokenizer="char", val_fraction=0.34)
    assert chars.vocabulary[:2] == (" ", "a")  # 11 spaces, 10 a
    assert chars.input_shape == (64,) and chars.name == "text-char"
    labels = sorted(torch.cat([task.train.y, task.val.y]).tolist())
    assert labels == [0, 1, 1]  # classes sorted: neg, pos


def test_text_folders_jsonl_and_the_bad_inputs_they_can_hold(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    train = [{"text": "hello there", "label": 3}, {"text": "good day", "label": 10}, {"text": "hi", "label": 3}]
    (folder / "train.jsonl").write_text("\n".join(json.dumps(t) for t in train) + "\n", encoding="utf-8")
    (folder / "test.jsonl").write_text(json.dumps({"text": "hello zebra", "label": 10}) + "\n", encoding="utf-8")
    task = load_task("text", root=folder, val_fraction=0.34)
    assert len(task.test) == 1 and task.test.y.tolist() == [1]  # integer labels in numeric order: 3, 10
    assert task.test.x[0, :2].tolist() == [task.vocabulary.index("hello") + 2, 1]  # unseen "zebra": unknown
    (folder / "test.jsonl").write_text(json.dumps({"text": "hello", "label": 7}) + "\n", encoding="utf-8")
    with pytest.raises(DatasetError, match=r"labels \['7'\] are not in the training file's classes"):
        load_task("text", root=folder)
    (folder / "test.jsonl").unlink()
    bad = tmp_path / "bad.csv"
    bad.write_text("text,label\nfine,a\n  ,b\n", encoding="utf-8")
    with pytest.raises(DatasetError, match=r"bad\.csv' line 3: empty text"):
        load_task("text", root=bad)
    bad.write_text("sentence,label\nfine,a\n", encoding="utf-8")
    with pytest.raises(DatasetError, match="lacks text and label columns"):
        load_task("text", root=bad)
    bad.write_text("text,label\nfine,a\nalso fine,a\n", encoding="utf-8")
    with pytest.raises(DatasetError, match="1 class; allowed: at least 2"):
        load_task("text", root=bad)
    with pytest.raises(DatasetError, match=r"neither a text file nor a folder with train\.csv"):
        load_task("text", root=tmp_path / "nowhere")
    with pytest.raises(DatasetError, match="image_size: applies to image datasets"):
        load_task("text", root=folder, image_size=8)
    with pytest.raises(DatasetError, match="tokenizer: 'bpe' is not allowed"):
        load_task("text", root=folder, tokenizer="bpe")
    with pytest.raises(DatasetError, match="max_length / tokenizer: apply to text datasets"):
        load_task("digits", max_length=8)
    with pytest.raises(DatasetError, match="download: langid cannot be downloaded"):
        load_task("langid", download=True)


def _word_lists(folder, n_words=LANGID_TRAIN + LANGID_TEST + 50):
    """Eight fake word lists, each language with its own letters (a few words shared, which are left out)."""
    rng = np.random.default_rng(1)
    alphabet = list("abcdefghijklmnopqrstuvwxyzäöüéèàçñ")
    folder.mkdir()
    for k, name in enumerate(LANGID_LISTS.values()):
        letters = alphabet[k * 3:k * 3 + 8]
        words = {"".join(rng.choice(letters, rng.integers(3, 12))) for _ in range(n_words * 2)}
        words = [*sorted(words)[:n_words], "shared", "It's"]
        (folder / name).write_text("\n".join(words) + "\n", encoding="utf-8")
    return folder


def test_langid_reads_word_lists_once_and_names_the_packages_when_missing(tmp_path):
    from nasco.evo.train import image_cache

    with pytest.raises(DatasetError, match="apt-get install wamerican wngerman"):
        load_task("langid", root=tmp_path)
    root = _word_lists(tmp_path / "dict")
    task = load_task("langid", root=root, train_subset=800)
    assert task.num_classes == 8 and len(task.test) == 8 * LANGID_TEST and task.input_shape == (24,)
    assert len(task.train) == 800 and torch.all((torch.bincount(task.train.y) - 100).abs() <= 1)  # stratified
    assert 1 not in task.train.x.unique().tolist() and "'" not in task.vocabulary  # "It's" left out
    assert len(list(image_cache.cache_dir().glob("langid-*.json"))) >= 1
    again = load_task("langid", root=root, train_subset=800)
    assert torch.equal(again.train.x, task.train.x) and torch.equal(again.test.x, task.test.x)


def _layout_for(task):
    return compile_any(space_kind("sequence").default_for(task))


def test_a_sequence_network_learns_a_separable_text_task_and_prunes_to_its_genome(tmp_path):
    torch.set_num_threads(1)
    from nasco.evo.train.trainer import TrainConfig, evaluate, train_candidate

    task = load_task("text", root=_halves_csv(tmp_path / "halves.csv"), max_length=16)
    layout = _layout_for(task)
    assert layout.space.vocab_size == task.vocab_size and layout.space.max_length == 16
    genome = fixed_genome(layout, arch="min", weight_bits=8, act_bits=8, prune=0.5)
    result, model = train_candidate(layout, genome, task, TrainConfig(epochs=4, batch_size=32, lr=0.01), seed=4)
    assert result.status == "ok", result.reason
    assert result.val_error < 0.25  # chance is 0.5; the letters tell the classes apart
    assert result.val_error == evaluate(model, task)  # the masked network's error is the slim one's
    costs = layout.exact_costs(genome)[0]
    assert result.macs == costs[0] and sum(p.numel() for p in model.parameters()) == costs[1]
    heads = [m for m in model.modules() if type(m).__name__ == "AttentionBlock"]
    assert heads and all(block.heads == 1 for block in heads)  # 2 heads, half pruned
    import torch.nn.functional as F

    def divergence(student) -> float:  # KL to the teacher's softened predictions, on the validation texts
        with torch.inference_mode():
            logits, target = student.eval()(task.val.x), model.eval()(task.val.x)
        return float(F.kl_div(F.log_softmax(logits / 4, 1), F.log_softmax(target / 4, 1), log_target=True,
                              reduction="batchmean"))

    small = fixed_genome(layout, arch="min", weight_bits=4, act_bits=8)
    for seed in (1, 2):  # measured: KL 0.47–0.59× that of the student trained alone (seeds 1–4)
        alone, alone_model = train_candidate(layout, small, task, TrainConfig(epochs=3, batch_size=32), seed=seed)
        student, student_model = train_candidate(layout, small, task,
                                                 TrainConfig(epochs=3, batch_size=32, kd_weight=1.0), seed=seed,
                                                 teacher=model)  # distillation
        assert student.status == alone.status == "ok", student.reason
        assert divergence(student_model) < 0.8 * divergence(alone_model), seed
    with pytest.raises(NascoError, match="holds texts; the space is an image space"):
        from nasco.evo import compile_space, default_space

        image = compile_space(default_space((1, 8, 8), 2))
        train_candidate(image, fixed_genome(image), task, TrainConfig(epochs=1))
    with pytest.raises(NascoError, match="holds images; the space is a sequence space"):
        train_candidate(layout, genome, load_task("digits"), TrainConfig(epochs=1))
    other = compile_any(space_kind("sequence").default_for(load_task("text", root=tmp_path / "halves.csv")))
    with pytest.raises(NascoError, match=r"has 16 tokens per text, .* the space expects max_length 64"):
        train_candidate(other, other.sample(np.random.default_rng(0), 1)[0], task, TrainConfig(epochs=1))


def test_a_text_campaign_from_the_command_line_shows_and_exports_its_networks(tmp_path, capsys):
    from nasco.evo.cli.main import main

    data = _halves_csv(tmp_path / "halves.csv", n=240)
    config = tmp_path / "text.toml"
    config.write_text(f"""
[campaign]
name = "text-tiny"
out = "{tmp_path / 'run'}"
[task]
dataset = "text"
root = "{data}"
max_length = 12
[space]
kind = "sequence"
[search]
population = 4
offspring = 2
generations = 1
[training]
epochs = 1
final_epochs = 0
batch_size = 32
[executor]
workers = 1
""", encoding="utf-8")
    assert main(["run", str(config)]) == 0
    assert main(["front", str(tmp_path / "run"), "--search", "--csv", "-"]) == 0
    front = capsys.readouterr().out
    first = re.search(r"^\d+,([0-9a-f]{16}),", front, re.M).group(1)
    assert main(["show", str(tmp_path / "run"), first]) == 0
    shown = capsys.readouterr().out
    assert "head(s)" in shown and "ffn_up" in shown and "embedding" in shown
    with pytest.raises(NascoError, match="allowed for sequence networks are float"):
        from nasco.evo.results.export import export_candidate

        export_candidate(tmp_path / "run" / "archive.h5", first, tmp_path / "exp", formats=["packed"], root=str(data))
    assert main(["export", str(tmp_path / "run"), first, "-o", str(tmp_path / "exp"), "--format", "float",
                 "--root", str(data)]) == 0
    record = json.loads((tmp_path / "exp" / "record.json").read_text())
    assert record["reproduced"] is True and record["vocabulary"][:2] == ["<pad>", "<unk>"]
    check = record["deployment"]["checks"][0]
    assert check["file"] == "model.onnx" and check["max_abs_diff"] < 1e-3
    from nasco.evo.results.export import load_model

    model = load_model(tmp_path / "exp")
    assert model(torch.tensor([[2, 3, 0, 0]])).shape == (1, 2)


def test_image_only_campaign_features_are_refused_for_sequence_spaces_before_training(tmp_path):
    from nasco.evo.search.config import ConfigError, config_from_dict
    from nasco.evo.search.plan import plan_campaign

    data = _halves_csv(tmp_path / "halves.csv", n=40)
    base = {"task": {"dataset": "text", "root": str(data)}, "space": {"kind": "sequence"},
            "campaign": {"out": str(tmp_path / "run")}}
    plan = plan_campaign(config_from_dict(base))
    assert plan.layout.space.kind == "sequence" and plan.layout.space.vocab_size == plan.task.vocab_size
    for extra, named in ((("search", "preprocess", True), "search.preprocess"),
                         (("evaluator", "kind", "supernet"), "evaluator.kind = 'supernet'")):
        section, key, value = extra
        config = config_from_dict({**base, section: {key: value}})
        with pytest.raises(ConfigError, match=re.escape(named) + ".*space kind 'sequence' declares none of these"):
            plan_campaign(config)
    with pytest.raises(Exception, match="holds texts; allowed: \\[space\\] kind = \"sequence\""):
        plan_campaign(config_from_dict({**base, "space": {"kind": "mobilenet"}}))
