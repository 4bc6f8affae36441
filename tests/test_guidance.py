"""Two-condition classifier-free guidance (lddbm.guidance): the maths of the combination, the
label-conditioned denoiser and pipeline, and condition dropout in training."""

import pytest
import torch

from lddbm.denoiser import BridgeTransformer
from lddbm.errors import ConfigError
from lddbm.guidance import GuidanceTerm, guidance_terms, guided_denoise
from lddbm.modalities import ImageDecoder, VectorEncoder
from lddbm.pipeline import LDDBMPipeline
from lddbm.presets import apply_overrides, get_preset
from lddbm.scheduler import BridgeScheduler
from lddbm.train import condition_draws, train

from test_train import TINY

NULL = 3  # the "no label" index of a 3-class denoiser


def as_tuples(terms):
    return [(t.coefficient, t.with_source, t.with_label) for t in terms]


def test_the_terms_are_the_nested_combination_and_sum_to_one():
    assert as_tuples(guidance_terms(2.0, 3.0, True, True)) == [(-1.0, False, False), (-1.0, True, False), (3.0, True, True)]
    assert as_tuples(guidance_terms(1.0, 1.0, True, True)) == [(1.0, True, True)]  # plain D(s, l): one evaluation
    assert as_tuples(guidance_terms(1.0, 0.0, True, True)) == [(1.0, True, False)]  # the label ignored
    assert as_tuples(guidance_terms(1.0, 5.0, True, False)) == [(1.0, True, False)]  # no label: its weight is moot
    assert as_tuples(guidance_terms(4.0, 1.0, False, True)) == [(1.0, False, True)]  # no source: its weight is moot
    assert as_tuples(guidance_terms(2.5, 1.0, True, False)) == [(-1.5, False, False), (2.5, True, False)]
    for scales in [(0.3, 2.0), (3.0, 0.0), (1.7, 1.7)]:
        for has in [(True, True), (True, False), (False, True)]:
            assert sum(t.coefficient for t in guidance_terms(*scales, *has)) == pytest.approx(1.0)
    with pytest.raises(ConfigError, match="source, a class label"):
        guidance_terms(1.0, 1.0, False, False)


def fake_denoiser():
    """D(x | s, l) = x + s + e_l with a fixed vector per label (e_null = 0): every conditioning distinct."""
    label_vectors = torch.randn(NULL + 1, 2, 4, 4, generator=torch.Generator().manual_seed(0))
    label_vectors[NULL] = 0
    return lambda x, s, labels: x + s + label_vectors[labels]


def test_guided_denoise_evaluates_the_formula_in_one_batched_call():
    calls, base = [], fake_denoiser()
    denoise = lambda x, s, labels: calls.append(len(x)) or base(x, s, labels)  # noqa: E731
    g = torch.Generator().manual_seed(1)
    x, s, labels = torch.randn(2, 2, 4, 4, generator=g), torch.randn(2, 2, 4, 4, generator=g), torch.tensor([0, 2])
    null = torch.full((2,), NULL)
    d_none, d_s, d_sl = base(x, 0 * s, null), base(x, s, null), base(x, s, labels)
    lam_s, lam_l = 2.0, 3.0
    expected = d_none + lam_s * (d_s - d_none) + lam_l * (d_sl - d_s)
    got = guided_denoise(denoise, x, s, labels, guidance_terms(lam_s, lam_l, True, True), NULL)
    assert torch.allclose(got, expected, atol=1e-6) and calls == [6]  # 3 terms x 2 samples, one call
    calls.clear()
    plain = guided_denoise(denoise, x, s, labels, guidance_terms(1.0, 1.0, True, True), NULL)
    assert torch.equal(plain, d_sl) and calls == [2]


def test_each_weight_moves_the_estimate_along_its_own_condition():
    base = fake_denoiser()
    g = torch.Generator().manual_seed(2)
    x, s, labels = torch.randn(1, 2, 4, 4, generator=g), torch.randn(1, 2, 4, 4, generator=g), torch.tensor([1])
    null = torch.full((1,), NULL)
    label_direction = (base(x, s, labels) - base(x, s, null)).flatten()
    source_direction = (base(x, s, null) - base(x, 0 * s, null)).flatten()

    def guided(lam_s, lam_l):
        return guided_denoise(base, x, s, labels, guidance_terms(lam_s, lam_l, True, True), NULL).flatten()

    # raising lambda_l moves D~ along the label's direction only, and lambda_s along the source's only
    step_l = guided(1.0, 2.0) - guided(1.0, 1.0)
    step_s = guided(2.0, 1.0) - guided(1.0, 1.0)
    assert torch.allclose(step_l, label_direction, atol=1e-6) and torch.allclose(step_s, source_direction, atol=1e-6)


def labelled_pipeline() -> LDDBMPipeline:
    torch.manual_seed(0)
    denoiser = BridgeTransformer(in_channels=2, sample_size=4, patch_size=2, hidden_size=16, depth=1, encoder_depth=1,
                                 num_heads=2, num_mask_tokens=2, num_classes=NULL)
    for p in denoiser.parameters():
        torch.nn.init.normal_(p, std=0.05)
    pipe = LDDBMPipeline(VectorEncoder(dim=3, latent_channels=2, latent_size=4, width=16), denoiser,
                         BridgeScheduler(num_inference_steps=3, sampler="dbim"),
                         ImageDecoder(out_channels=1, image_size=8, latent_channels=2, latent_size=4, width=8))
    pipe.set_progress_bar_config(disable=True)
    return pipe


INPUTS = [[0.1, -0.4, 1.2], [0.0, 0.3, -0.7]]


def test_a_labelled_pipeline_follows_labels_and_weights(tmp_path):
    pipe = labelled_pipeline()
    plain = pipe(INPUTS)
    assert plain.nfe == 3  # no labels, lambda_s = 1: the plain bridge
    a, b = pipe(INPUTS, class_labels=[0, 0]), pipe(INPUTS, class_labels=[2, 2])
    assert a.nfe == 3 and not torch.allclose(a.outputs, b.outputs)
    guided = pipe(INPUTS, class_labels=[0, 0], label_scale=3.0)
    assert guided.nfe == 6 and not torch.allclose(guided.outputs, a.outputs)  # two terms per step
    assert pipe(INPUTS, class_labels=[0, 2], source_scale=2.0, label_scale=3.0).nfe == 9
    only_labels = pipe(None, class_labels=[0, 1, 2])
    assert only_labels.outputs.shape == (3, 1, 8, 8)
    pipe.save_pretrained(tmp_path)
    loaded = LDDBMPipeline.load(tmp_path)
    loaded.set_progress_bar_config(disable=True)
    assert torch.equal(loaded(INPUTS, class_labels=[0, 2], label_scale=2.0).outputs,
                       pipe(INPUTS, class_labels=[0, 2], label_scale=2.0).outputs)


def test_the_checkpoints_sketch_weight_is_the_default_and_travels_with_it(tmp_path):
    pipe = labelled_pipeline()
    assert pipe.default_source_scale == 1.0  # a scheduler config without one: the plain conditional bridge
    explicit = pipe(INPUTS, source_scale=0.0, generator=torch.Generator().manual_seed(0)).outputs
    assert not torch.allclose(explicit, pipe(INPUTS, generator=torch.Generator().manual_seed(0)).outputs)
    pipe.scheduler.register_to_config(source_scale=0.0)  # as checkpoints/digits/h2p ships
    pipe.save_pretrained(tmp_path)
    loaded = LDDBMPipeline.load(tmp_path)
    loaded.set_progress_bar_config(disable=True)
    assert loaded.default_source_scale == 0.0
    assert torch.equal(loaded(INPUTS, generator=torch.Generator().manual_seed(0)).outputs, explicit)
    assert loaded(INPUTS, class_labels=[0, 2]).nfe == 9  # (0, 1) with a label: three terms per step


def test_label_errors_say_what_to_do(tiny_pipeline):
    pipe = labelled_pipeline()
    with pytest.raises(ConfigError, match="one per input"):
        pipe(INPUTS, class_labels=[0])
    with pytest.raises(ConfigError, match=r"integers in 0\.\.2"):
        pipe(INPUTS, class_labels=[0, 3])
    with pytest.raises(ConfigError, match="give inputs, class_labels"):
        pipe(None)
    with pytest.raises(ConfigError, match="without a class-label condition"):
        tiny_pipeline(INPUTS, class_labels=[0, 1])


def test_condition_dropout_draws_depend_on_the_position_and_hit_their_rates():
    preset = apply_overrides(get_preset("digits_h2p"), {"denoiser.num_classes": "10", "loss.label_dropout": "0.3",
                                                        "loss.source_dropout": "0.2"})
    labels = torch.arange(2000) % 10
    seen, drop = condition_draws(preset, 0, labels)
    assert set(seen[seen != labels].tolist()) == {10}  # dropped labels become the null index
    assert (seen == 10).float().mean() == pytest.approx(0.3, abs=0.04)
    assert drop.float().mean() == pytest.approx(0.2, abs=0.04)
    later, later_drop = condition_draws(preset, 1000, labels[1000:])
    assert torch.equal(later, seen[1000:]) and torch.equal(later_drop, drop[1000:])
    assert condition_draws(get_preset("digits_p2h"), 0, labels)[0] is None  # no label condition there
    assert condition_draws(get_preset("sr4x"), 0, labels) == (None, None)  # nothing to draw


def test_training_with_source_dropout_runs_and_labels_need_labelled_data(tmp_path):
    preset = apply_overrides(get_preset("synthetic"), {**TINY, "train.steps": "2", "loss.source_dropout": "0.5"})
    assert train(preset, tmp_path / "dropout", progress=False)["step"] == 2
    labelled = apply_overrides(get_preset("synthetic"), {**TINY, "train.steps": "2", "denoiser.num_classes": "10"})
    with pytest.raises(ConfigError, match="has no labels"):
        train(labelled, tmp_path / "labels", progress=False)


def test_guidance_term_is_a_plain_value():
    assert GuidanceTerm(0.5, True, False) == GuidanceTerm(0.5, True, False)
