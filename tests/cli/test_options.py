"""The tables of minicnn/cli/options.py against what they describe: the models, the optimizers'
real state, the parsers built from them."""
import numpy as np
import pytest

import minicnn
from minicnn.__main__ import build_parser, main
from minicnn.cli.options import DATASETS, OPTIMIZERS, OPTIONS, default_options
from minicnn.models import MODELS


def test_each_dataset_trains_a_registered_model():
    for name, row in DATASETS.items():
        assert row.model in MODELS, name
        assert (row.files is None) == (name == "digits")  # only the digits ship with minicnn


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_each_optimizer_keeps_the_state_its_row_says(name):
    # The checkpoint check trusts these names: they must be what a step really leaves.
    row = OPTIMIZERS[name]
    w = minicnn.tensor(np.ones((2, 3), np.float32), requires_grad=True)
    extra = {} if row.momentum is None else {"momentum": 0.5}
    optimizer = row.cls([w], lr=0.1, **extra)
    (w * w).sum().backward()
    optimizer.step()
    kept = set(optimizer.state_dict()["state"][0])
    allowed, required = row.state_names(optimizer.state_dict()["param_groups"])
    assert required <= kept <= allowed


def test_the_parsers_hold_every_option_of_the_table():
    train = build_parser("train").parse_args(["train"])
    evaluate = build_parser("evaluate").parse_args(["evaluate", "--checkpoint", "c"])
    for option in OPTIONS:
        assert hasattr(train, option.name)
        if option.name != "checkpoint":  # evaluate has its own (required) --checkpoint
            assert hasattr(evaluate, option.name) == option.evaluate, option.name
        if option.run:  # left out reads None, so a resumed run can tell it from a value given
            assert getattr(train, option.name) is None, option.name


def test_defaults_follow_the_dataset_and_the_optimizer():
    options = default_options({"dataset": "cifar10"})
    assert (options["model"], options["lr"], options["optimizer"]) == ("cifar_net", 0.02, "sgd")
    assert options["momentum"] == 0.9 and options.get("label_smoothing") is None
    options = default_options({"optimizer": "rmsprop"})
    assert (options["dataset"], options["lr"], options["momentum"]) == ("digits", 1e-3, 0.0)


def test_a_label_smoothing_outside_zero_to_one_is_one_line(capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", "--label-smoothing", "1.5"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert "--label-smoothing must be a finite number in [0, 1], got 1.5" in err
