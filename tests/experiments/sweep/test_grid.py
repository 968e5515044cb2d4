import json

import pytest

from experiments.sweep.grid import Cell, GridError, GridSpec, expand_grid
from experiments.sweep.presets import preset

BASE = {"task": "toy", "config": "training_configs/classification/bcn_elmo_small.jsonnet",
        "test_data": "data/test.txt", "metric": "accuracy"}


def spec(**changes):
    return GridSpec.from_dict({**BASE, **changes})


def test_expansion_is_the_product_in_grid_order():
    cells = expand_grid(spec(methods=["svd", "prune"], targets=["W_h", "W_i"], ranks=[2, 8], seeds=[1, 2]))
    assert len(cells) == 2 * 2 * 2 * 2 == len(set(cells))
    assert cells[0] == Cell("svd", "W_h", 2, 1) and cells[0].name == "svd-W_h-r2-s1"
    assert cells[-1].name == "prune-W_i-r8-s2"


def test_fine_tuned_cells_bring_their_post_hoc_cell():
    cells = expand_grid(spec(methods=["svd"], targets=["W_h"], ranks=[4], seeds=[3], fine_tune=[True]))
    assert [c.name for c in cells] == ["svd-W_h-r4-s3", "svd-W_h-r4-s3-ft"]
    # a config that compresses by itself (the language model) needs no post-hoc run
    cells = expand_grid(spec(methods=["svd"], targets=["W_h"], ranks=[4], seeds=[3], fine_tune=[True],
                             finetune_from="baseline"))
    assert [c.name for c in cells] == ["svd-W_h-r4-s3-ft"]


def test_fine_tuning_only_at_the_finetune_ranks_and_seeds():
    cells = expand_grid(spec(methods=["svd"], targets=["W_h"], ranks=[4, 8], seeds=[1], fine_tune=[False, True],
                             finetune_ranks=[4]))
    assert [c.name for c in cells] == ["svd-W_h-r4-s1", "svd-W_h-r4-s1-ft", "svd-W_h-r8-s1"]
    cells = expand_grid(spec(methods=["svd"], targets=["W_h"], ranks=[4, 8], seeds=[1, 2], fine_tune=[False, True],
                             finetune_ranks=[4], finetune_seeds=[2]))
    assert [c.name for c in cells] == ["svd-W_h-r4-s1", "svd-W_h-r4-s2", "svd-W_h-r4-s2-ft",
                                       "svd-W_h-r8-s1", "svd-W_h-r8-s2"]


def test_defaults_follow_the_metric_and_the_config():
    assert spec().finetune_config == "training_configs/classification/bcn_elmo_small_finetune.jsonnet"
    assert spec().lower_is_better is False
    assert spec(metric="perplexity").lower_is_better is True


def test_grid_from_json_and_yaml_files(tmp_path, monkeypatch):
    monkeypatch.setenv("LSTMFACT_DATA", "/data")
    (tmp_path / "grid.json").write_text(json.dumps({**BASE, "test_data": "$LSTMFACT_DATA/sst/test.txt", "ranks": [2]}))
    (tmp_path / "grid.yaml").write_text("task: toy\nconfig: c.jsonnet\ntest_data: t.txt\nmetric: f1\nranks: [2, 4]\n"
                                        "env: {NUM_EPOCHS: 1}\n")
    assert GridSpec.from_file(str(tmp_path / "grid.json")).test_data == "/data/sst/test.txt"
    from_yaml = GridSpec.from_file(str(tmp_path / "grid.yaml"))
    assert from_yaml.ranks == [2, 4] and from_yaml.env == {"NUM_EPOCHS": "1"}


@pytest.mark.parametrize("changes, message", [({"rnaks": [2]}, "unknown grid keys: rnaks"),
                                              ({"ranks": []}, "empty grid axes: ranks"),
                                              ({"ranks": [0]}, "ranks must be positive"),
                                              ({"ranks": [2], "finetune_ranks": [3]},
                                               r"finetune_ranks must be among the ranks \[2\], got \[3\]"),
                                              ({"seeds": [1, 2], "finetune_seeds": [1, 5]},
                                               r"finetune_seeds must be among the seeds \[1, 2\], got \[1, 5\]"),
                                              ({"finetune_from": "scratch"}, "finetune_from must be one of"),
                                              ({"config": "c.json", "fine_tune": [True]}, "needs finetune_config")])
def test_bad_grids_fail(changes, message):
    with pytest.raises(GridError, match=message):
        spec(**changes)


def test_presets_take_overrides():
    sst = preset("sst5", ranks=[2, 8], seeds=None)
    assert sst.ranks == [2, 8] and sst.seeds == [1] and sst.metric == "accuracy"
    assert preset("ptb").lower_is_better and preset("ptb").finetune_from == "baseline"
    with pytest.raises(GridError, match="unknown preset"):
        preset("mnist")
