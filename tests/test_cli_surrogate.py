"""``nasco surrogate fit|score`` on a small archive of synthetic records."""

from __future__ import annotations

import numpy as np
import pytest

from nasco.archive import HDF5Archive, Record
from nasco.evo import compile_space, default_space, sample_genomes
from nasco.evo.cli.main import main
from nasco.evo.space.features import feature_names, genome_features
from nasco.evo.space.genome import genome_costs
from nasco.kernels.tables import COST_NAMES

LAYOUT = compile_space(default_space((1, 8, 8), 10))


@pytest.fixture(scope="module")
def archive_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("surrogate") / "a.h5"
    names = feature_names(LAYOUT)
    with HDF5Archive(path, "a", columns=("error", *COST_NAMES)) as archive:
        archive.register_space(LAYOUT.space.space_id, LAYOUT.space.to_dict(), LAYOUT.n_genes)
        for task, n, shift in (("digits", 60, 0.0), ("fashion", 30, 0.05)):
            archive.register_task(task, {"name": task})
            genomes = sample_genomes(LAYOUT, np.random.default_rng(len(task)), n)
            X = genome_features(LAYOUT, genomes)
            error = 0.5 - 0.03 * X[:, names.index("log_macs")] + 0.1 * X[:, names.index("mean_prune")] + shift
            costs = genome_costs(LAYOUT, genomes).astype(float)
            archive.append([Record(genome=g, space_id=LAYOUT.space.space_id, task_id=task, fidelity=5,
                                   values={"error": float(e), **dict(zip(COST_NAMES, c.tolist(), strict=True))})
                            for g, e, c in zip(genomes, error, costs, strict=True)])
        # a retrained front: a few records of digits at a higher fidelity, with much lower errors
        archive.append([Record(genome=g, space_id=LAYOUT.space.space_id, task_id="digits", fidelity=12,
                               values={"error": 0.01, **dict(zip(COST_NAMES, c.tolist(), strict=True))})
                        for g, c in zip(genomes[:7], costs[:7], strict=True)])
    return path


def test_fit_uses_one_fidelity_and_says_which(archive_path, capsys):
    """Fitting 4-epoch and 12-epoch errors together used to be the default; now the search fidelity is."""
    assert main(["surrogate", "fit", str(archive_path), "--task", "digits", "--families", "trees"]) == 0
    assert "digits: 60 successful records at fidelity 5 epochs (the most records" in capsys.readouterr().out
    assert main(["surrogate", "fit", str(archive_path), "--task", "digits", "--families", "trees",
                 "--fidelity", "12"]) == 2
    assert "too few" in capsys.readouterr().err


def _png_ok(path) -> None:
    import matplotlib.image

    image = matplotlib.image.imread(path)
    assert image.shape[0] > 200 and image.shape[1] > 200 and float(image.std()) > 0.05


def _table_rows(text: str) -> list[tuple[str, list[float]]]:
    """(first cell, the numbers of the other cells) of each body row of the rich tables printed."""
    rows = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("│").split("│")]
        if line.startswith("│") and len(cells) > 1:
            rows.append((cells[0], [float(c) for c in cells[1:]]))
    return rows


def _archive_table(path):
    with HDF5Archive(path) as archive:
        return archive.table(), dict(archive.spaces)


def test_fit_prints_every_family_and_plots(archive_path, tmp_path, capsys):
    from nasco.evo.search.surrogate_io import fit_task_surrogate

    assert main(["surrogate", "fit", str(archive_path), "--task", "digits", "--families", "gp,trees",
                 "--plot", str(tmp_path / "p.png")]) == 0
    out = capsys.readouterr().out
    assert "60 successful records" in out
    printed = dict(_table_rows(out))
    fit = fit_task_surrogate(*_archive_table(archive_path), "digits", families=["gp", "trees"], folds=5, seed=0)
    assert set(printed) == {"gp", "trees"}
    for score in fit.scores["plain"]:  # the printed τ are the library's cross-validation, to the digit shown
        assert printed[score.family][:4] == pytest.approx([score.tau_mean, score.tau_std, score.score,
                                                           score.rho_mean], abs=5e-4)
    assert printed["gp"][0] > 0.6  # the synthetic error is a smooth function of the features
    assert f"chosen: {fit.scores['plain'][0].family}" in out
    _png_ok(tmp_path / "p.png")


def test_fit_with_transfer(archive_path, capsys):
    """fashion's error is digits' plus a constant: digits' surrogate as a feature must rank it much better."""
    assert main(["surrogate", "fit", str(archive_path), "--task", "fashion", "--transfer-from", "digits",
                 "--families", "trees", "--folds", "3"]) == 0
    out = capsys.readouterr().out
    (_, plain), (_, transfer) = _table_rows(out)
    assert transfer[0] > plain[0] + 0.1, (plain, transfer)  # τ mean, measured 0.635 vs 0.412
    assert "chosen: trees, with transfer" in " ".join(out.split())


def test_score(archive_path, tmp_path, capsys):
    from nasco.evo.search.surrogate_io import task_features
    from nasco.surrogate.selection import holdout_evaluation

    assert main(["surrogate", "score", str(archive_path), "--task", "digits", "--train-size", "30", "--repeats",
                 "2", "--families", "trees,rbf", "--plot", str(tmp_path / "s.png")]) == 0
    printed = dict(_table_rows(capsys.readouterr().out))
    _, X, y = task_features(*_archive_table(archive_path), "digits", fidelity=5)
    runs = holdout_evaluation(X, y, 30, repeats=2, families=["trees", "rbf"], folds=5, seed=0)
    for family in ("trees", "rbf"):
        taus = [r.tau[family] for r in runs]
        assert printed[family] == pytest.approx([np.mean(taus), np.std(taus)], abs=5e-4)
        assert np.mean(taus) > 0.4
    selected = [r.selected_tau for r in runs]
    assert printed["selected"] == pytest.approx([np.mean(selected), np.std(selected)], abs=5e-4)
    _png_ok(tmp_path / "s.png")


@pytest.mark.parametrize(("argv", "message"), [
    (["--task", "nope"], "task 'nope': no successful records; tasks in the archive: ['digits', 'fashion']"),
    (["--task", "digits", "--families", "svm"], "--families: ['svm'] unknown"),
])
def test_errors(archive_path, capsys, argv, message):
    assert main(["surrogate", "fit", str(archive_path), *argv]) == 2
    assert message in " ".join(capsys.readouterr().err.split())


def test_score_train_size_error(archive_path, capsys):
    assert main(["surrogate", "score", str(archive_path), "--task", "digits", "--train-size", "60"]) == 2
    assert "train_size: 60 is not allowed; allowed: 15..59" in " ".join(capsys.readouterr().err.split())
