import pytest
import torch

from lddbm.bridge import Bridge

BRIDGES = [Bridge(), Bridge(kind="vp", sigma_min=1e-4, sigma_max=1.0)]


@pytest.mark.parametrize("bridge", BRIDGES, ids=["ve", "vp"])
def test_marginal_endpoints(bridge):
    g = torch.Generator().manual_seed(0)
    x0, xT = torch.randn(2, 3, 4, 4, generator=g), torch.randn(2, 3, 4, 4, generator=g)
    mean, std = bridge.marginal(x0, xT, torch.full((2,), 1e-12))
    torch.testing.assert_close(mean, x0, atol=1e-6, rtol=0)
    assert std.max() < 1e-6
    mean, std = bridge.marginal(x0, xT, torch.full((2,), bridge.sigma_max))
    torch.testing.assert_close(mean, xT, atol=1e-6, rtol=0)
    assert std.max() < 1e-6
    _, std_mid = bridge.marginal(x0, xT, torch.full((2,), bridge.sigma_max / 2))
    assert std_mid.min() > 0.1  # noisy in between


def test_ve_marginal_matches_brownian_bridge():
    bridge, t = Bridge(), torch.tensor([20.0])
    x0, xT = torch.zeros(1, 1), torch.ones(1, 1)
    mean, std = bridge.marginal(x0, xT, t)
    r = (20 / 80) ** 2
    assert mean.item() == pytest.approx(r)
    assert std.item() == pytest.approx((20**2 * (1 - r)) ** 0.5)


@pytest.mark.parametrize("bridge", BRIDGES, ids=["ve", "vp"])
def test_preconditioning_limits(bridge):
    c_skip, c_out, c_in, _ = bridge.scalings(torch.tensor([1e-12]))
    assert c_skip.item() == pytest.approx(1.0, abs=1e-6)  # x_t is already x0
    assert c_out.item() == pytest.approx(0.0, abs=1e-6)
    assert c_in.item() == pytest.approx(1 / bridge.sigma_data, rel=1e-4)
    c_skip, c_out, c_in, _ = bridge.scalings(torch.tensor([bridge.sigma_max]))
    assert c_skip.item() == pytest.approx(0.0, abs=1e-9)  # with cov_xy = 0, x_T says nothing linear about x0
    assert c_out.item() == pytest.approx(bridge.sigma_data, rel=1e-6)
    assert c_in.item() == pytest.approx(1 / bridge.sigma_data_end, rel=1e-6)


@pytest.mark.parametrize("cov", [0.0, 0.15])
def test_preconditioning_gives_unit_variance_input_and_target(cov):
    """With x0, xT of the assumed statistics, c_in x_t and the network's target have unit variance."""
    bridge = Bridge(sigma_data=0.5, sigma_data_end=0.6, cov_xy=cov)
    g = torch.Generator().manual_seed(0)
    n = 400_000
    x0 = 0.5 * torch.randn(n, 1, generator=g, dtype=torch.float64)
    # xT with std 0.6 and covariance cov with x0
    k = cov / 0.25
    xT = k * x0 + (0.36 - k**2 * 0.25) ** 0.5 * torch.randn(n, 1, generator=g, dtype=torch.float64)
    for t in [0.5, 10.0, 60.0, 79.0]:
        tt = torch.full((n,), t, dtype=torch.float64)
        x_t = bridge.sample_marginal(x0, xT, tt, torch.randn(n, 1, generator=g, dtype=torch.float64))
        c_skip, c_out, c_in, _ = bridge.scalings(torch.tensor(t))
        assert (c_in * x_t).std().item() == pytest.approx(1.0, abs=0.01)
        target = (x0 - c_skip * x_t) / c_out
        assert target.std().item() == pytest.approx(1.0, abs=0.01)
        # c_skip is the least-squares coefficient of x0 on x_t
        assert ((x0 * x_t).mean() / (x_t * x_t).mean()).item() == pytest.approx(c_skip.item(), abs=0.01)


def test_loss_weights():
    bridge = Bridge()
    t = torch.tensor([0.01, 1.0, 40.0])
    torch.testing.assert_close(bridge.loss_weight(t), bridge.scalings(t)[1] ** -2)
    torch.testing.assert_close(bridge.loss_weight(t, "uniform"), torch.ones(3, dtype=torch.float64))
    with pytest.raises(ValueError, match="weighting"):
        bridge.loss_weight(t, "snr")


def test_denoise_applies_scalings():
    bridge = Bridge()
    x_t, xT = torch.randn(2, 1, 2, 2), torch.randn(2, 1, 2, 2)
    zero_net = lambda x, c_noise, src: torch.zeros_like(x)  # noqa: E731
    t = torch.tensor([3.0, 70.0])
    c_skip = bridge.scalings(t)[0].float().reshape(2, 1, 1, 1)
    torch.testing.assert_close(bridge.denoise(zero_net, x_t, t, xT), c_skip * x_t)


@pytest.mark.parametrize("mode", ["uniform", "karras"])
def test_training_times_in_range(mode):
    bridge = Bridge()
    t = bridge.sample_t(10_000, mode, generator=torch.Generator().manual_seed(0))
    assert t.min() >= bridge.sigma_min and t.max() < bridge.sigma_max
    if mode == "karras":
        assert (t < 1).float().mean() > 0.3  # the sampler's dense low-noise region is covered


def test_vp_drift_matches_finite_differences():
    """f and g^2 of the VP SDE agree with d log alpha / dt and d sigma^2/dt - 2 f sigma^2."""
    bridge = Bridge(kind="vp", sigma_min=1e-4, sigma_max=1.0)
    t, eps = torch.tensor(0.4, dtype=torch.float64), 1e-6
    a1, s1 = bridge.alpha_sigma(t + eps)
    a0, s0 = bridge.alpha_sigma(t - eps)
    f, g2 = bridge.f_g2(t)
    dlog_alpha = (torch.log(a1) - torch.log(a0)) / (2 * eps)
    _, s = bridge.alpha_sigma(t)
    assert f.item() == pytest.approx(dlog_alpha.item(), rel=1e-6)
    assert g2.item() == pytest.approx(((s1**2 - s0**2) / (2 * eps) - 2 * f * s**2).item(), rel=1e-6)


def test_invalid_parameters():
    with pytest.raises(ValueError, match="kind"):
        Bridge(kind="sb")
    with pytest.raises(ValueError, match="sigma_min"):
        Bridge(sigma_min=1.0, sigma_max=0.5)
    with pytest.raises(ValueError, match="cov_xy"):
        Bridge(cov_xy=0.3)


def test_shared_channels_are_carried_over_from_the_source():
    from lddbm.samplers import stochastic_options
    from lddbm.scheduler import BridgeScheduler

    bridge = Bridge(shared_channels=2)
    xT, x_t = torch.randn(3, 5, 4, 4), torch.randn(3, 5, 4, 4)

    def net(x, c_noise, source):
        return torch.ones_like(x)

    denoised = bridge.denoise(net, x_t, torch.tensor([0.5, 5.0, 50.0]), xT)
    torch.testing.assert_close(denoised[:, :2], xT[:, :2])
    torch.testing.assert_close(denoised[:, 2:], Bridge().denoise(net, x_t, torch.tensor([0.5, 5.0, 50.0]), xT)[:, 2:])
    for sampler in ("heun", "dbim"):  # sampling from xT keeps the shared channels at xT
        scheduler = BridgeScheduler(bridge=dict(shared_channels=2), sampler=sampler, num_inference_steps=4,
                                    **stochastic_options(sampler, 0.3))
        scheduler.set_timesteps()
        x = xT.clone()
        for t in scheduler.timesteps:
            x = scheduler.step(scheduler.bridge.denoise(net, x, t, xT), t, x, source=xT).prev_sample
        torch.testing.assert_close(x[:, :2], xT[:, :2], atol=0.02, rtol=0)
    with pytest.raises(ValueError, match="shared_channels"):
        Bridge(shared_channels=-1)
