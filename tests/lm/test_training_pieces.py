from types import SimpleNamespace

import pytest
import torch
from allennlp.common.checks import ConfigurationError

from allennlp_lstmfact.lm import BpttLearningRateScaling, NonMonotonicTrigger, TriggeredUniformAverage


def test_triggered_uniform_average_is_the_mean_of_the_iterates_after_the_trigger():
    parameter = torch.nn.Parameter(torch.zeros(3))
    average = TriggeredUniformAverage([("p", parameter)])
    for value in (5.0, 7.0):  # before the trigger: nothing is averaged, nothing is swapped
        parameter.data.fill_(value)
        average.apply()
    average.assign_average_value()
    assert parameter.data.eq(7.0).all()
    average.trigger()
    for value in (1.0, 2.0, 6.0):
        parameter.data.fill_(value)
        average.apply()
    average.assign_average_value()
    assert torch.allclose(parameter.data, torch.full((3,), 3.0))
    average.restore()
    assert parameter.data.eq(6.0).all()
    state = average.state_dict()
    fresh = TriggeredUniformAverage([("p", parameter)])
    fresh.load_state_dict(state)
    assert fresh.num_averaged == 3 and fresh._parameters[0][1] is parameter


def fake_trainer(moving_average=None, lr=1.0):
    parameter = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([parameter], lr=lr)
    return SimpleNamespace(_moving_average=moving_average, optimizer=optimizer, _num_gradient_accumulation_steps=1,
                           data_loader=SimpleNamespace(sequence_length=70))


def test_nt_asgd_triggers_like_awd_lstm_lm():
    average = TriggeredUniformAverage([("p", torch.nn.Parameter(torch.zeros(1)))])
    trainer = fake_trainer(average)
    callback = NonMonotonicTrigger("unused", non_monotone_interval=2)
    callback.on_start(trainer)
    # awd-lstm-lm: trigger when len(history) > n and current > min(history[:-n]).
    for epoch, perplexity in enumerate([100, 90, 80, 85, 95, 70]):
        callback.on_epoch(trainer, {"validation_perplexity": perplexity}, epoch)
        if epoch < 4:
            assert not average.triggered, epoch
    assert average.triggered and callback.triggered_at_epoch == 4  # 95 > min(100, 90)


def test_nt_asgd_needs_the_triggered_average():
    with pytest.raises(ConfigurationError, match="triggered_uniform"):
        NonMonotonicTrigger("unused").on_start(fake_trainer(None))


def test_bptt_lr_scaling_scales_one_step_and_restores():
    trainer = fake_trainer(lr=30.0)
    callback = BpttLearningRateScaling("unused")
    callback.on_start(trainer)
    callback.on_backward(trainer, {"sequence_length": 35}, backward_called=True)
    assert trainer.optimizer.param_groups[0]["lr"] == 15.0
    callback.on_batch(trainer, [], [], {}, 0, 1, is_training=True)
    assert trainer.optimizer.param_groups[0]["lr"] == 30.0
