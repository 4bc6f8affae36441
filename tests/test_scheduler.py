import pytest
import torch

from lddbm.samplers import stochastic_options
from lddbm.scheduler import BridgeScheduler


def gaussian_run(sampler, steps, randomness, kind="ve", n=20_000, seed=0):
    """x0 | xT ~ N(0.6 xT + 0.2, 0.3^2): sample with the exact denoiser E[x0 | x_t, xT].

    Returns the standardised residuals (x - m) / std, which are N(0, 1) for exact samples and
    0 for the conditional mean."""
    bridge = {"ve": {}, "vp": dict(kind="vp", sigma_min=1e-4, sigma_max=1.0), "diffusion": dict(kind="diffusion")}[kind]
    s = BridgeScheduler(bridge=bridge)
    s.set_timesteps(steps, sampler=sampler, **stochastic_options(sampler, randomness))
    g = torch.Generator().manual_seed(seed)
    xT = 0.5 * torch.randn(1, n, generator=g, dtype=torch.float64)
    m, v = 0.6 * xT + 0.2, 0.3**2

    def exact_denoiser(x, t):
        a, b, c = s.bridge.marginal_coefficients(t)
        den = b * b * v + c * c
        gain = b * v / den if den > 0 else 0.0
        return m + gain * (x - a * xT - b * m)

    x = s.bridge.prior(xT, torch.randn(xT.shape, generator=g, dtype=xT.dtype))
    for t in s.timesteps:
        x = s.step(exact_denoiser(x, t), t, x, source=xT, generator=g).prev_sample
    return (x - m) / v**0.5, s.num_function_evals


@pytest.mark.parametrize("kind", ["ve", "vp"])
def test_heun_stochastic_samples_the_target_distribution(kind):
    """DDBM's usual churn 0.33 at the demo's 10 steps: samples as wide as the truth (the
    Euler-Maruyama sub-step this replaced gave 1.22 times the std in VE at 10 steps)."""
    for steps in (10, 40):
        r, _ = gaussian_run("heun", steps, 0.33, kind=kind)
        assert abs(r.std().item() - 1) < 0.05 and abs(r.mean().item()) < 0.02, (steps, r.std().item(), r.mean().item())


@pytest.mark.parametrize("kind", ["ve", "vp"])
def test_heun_full_churn_stays_finite(kind):
    """churn 1: every step is the SDE sub-step; the last one (into t = 0) is never churned, where
    the ODE's drift is undefined (it used to give NaN, decoded as empty shapes)."""
    for steps in (1, 2, 10):
        r, nfe = gaussian_run("heun", steps, 1.0, kind=kind)
        assert torch.isfinite(r).all() and nfe == 3 * steps - 2
        assert r.std().item() < 1.05 and abs(r.mean().item()) < 0.1  # VP at 1 step: the ODE's one-step error


@pytest.mark.parametrize("kind", ["ve", "vp"])
def test_heun_ode_converges_to_the_conditional_mean(kind):
    """From the point mass at x_T the probability-flow ODE is deterministic: E[x0 | xT]."""
    rms = [gaussian_run("heun", steps, 0.0, kind=kind)[0].pow(2).mean().sqrt().item() for steps in (5, 10, 40)]
    assert rms[0] > rms[1] > rms[2]
    # VP starts further from its end point in relative terms (T - 1e-4 with T = 1), hence the looser bound
    assert rms[2] < (0.01 if kind == "ve" else 0.08)


@pytest.mark.parametrize("kind", ["ve", "vp"])
def test_fast_sampler_converges(kind):
    errors = []
    for steps in (2, 10, 100):
        r, nfe = gaussian_run("dbim", steps, 1.0, kind=kind)
        assert nfe == steps
        errors.append(abs(r.std().item() - 1) + abs(r.mean().item()))
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 0.1
    # deterministic (eta = 0) DBIM lands on the conditional mean at any step count
    r, _ = gaussian_run("fast", 3, 0.0, kind=kind)
    assert r.abs().max().item() < 1e-6


def test_nfe_counts():
    s = BridgeScheduler()
    s.set_timesteps(40, sampler="heun", churn=0.0)
    assert s.num_function_evals == 79  # the paper's 40-step Heun
    s.set_timesteps(40, sampler="heun", churn=0.33)
    assert s.num_function_evals == 118  # 3 N - 2: the last step, into t = 0, has no SDE sub-step
    s.set_timesteps(10, sampler="dbim")
    assert s.num_function_evals == 10
    assert len(s.timesteps) == 10 and s.timesteps[0] == s.bridge.sigma_max


def test_determinism_under_generator():
    a, _ = gaussian_run("heun", 6, 0.5, n=64, seed=3)
    b, _ = gaussian_run("heun", 6, 0.5, n=64, seed=3)
    c, _ = gaussian_run("heun", 6, 0.5, n=64, seed=4)
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_config_round_trip(tmp_path):
    s = BridgeScheduler(bridge=dict(kind="vp", sigma_min=1e-4, sigma_max=1.0), sampler="dbim", num_inference_steps=7,
                        eta=0.2)
    s.save_pretrained(tmp_path)
    t = BridgeScheduler.from_pretrained(tmp_path)
    public = lambda cfg: {k: v for k, v in cfg.items() if not k.startswith("_")}  # noqa: E731
    assert public(t.config) == public(s.config) and t.bridge == s.bridge
    assert t.num_function_evals == 7


def test_clear_errors():
    with pytest.raises(ValueError, match="sampler"):
        BridgeScheduler(sampler="euler")
    s = BridgeScheduler()
    with pytest.raises(ValueError, match="churn"):
        s.set_timesteps(4, churn=1.5)
    with pytest.raises(ValueError, match="positive integer"):
        s.set_timesteps(0)
    with pytest.raises(ValueError, match="no option eta; it takes guidance, churn"):
        s.set_timesteps(4, sampler="heun", eta=0.5)
    with pytest.raises(ValueError, match="no option churn"):
        s.set_timesteps(4, sampler="dbim", churn=0.5)
    s.set_timesteps(1, sampler="dbim")
    x = torch.zeros(1, 2)
    with pytest.raises(ValueError, match="expected timestep"):
        s.step(x, 3.0, x, source=x)
    s.step(x, s.timesteps[0], x, source=x)
    with pytest.raises(RuntimeError, match="set_timesteps"):
        s.step(x, s.timesteps[0], x, source=x)


def test_configs_written_before_the_rename_load_the_same_sampler():
    """An old flat config with sampler "fast" (DBIM) and churn as its eta: same bridge, same plan."""
    old = {"kind": "vp", "sigma_min": 1e-4, "sigma_max": 1.0, "shared_channels": 2, "sampler": "fast",
           "num_inference_steps": 5, "churn": 0.3, "guidance": 1.0, "rho": 7.0, "t_max_offset": 1e-4}
    with pytest.warns(FutureWarning, match="'fast'"):
        s = BridgeScheduler.from_config(old)
    new = BridgeScheduler(bridge=dict(kind="vp", sigma_min=1e-4, sigma_max=1.0, shared_channels=2), sampler="dbim",
                          num_inference_steps=5, eta=0.3)
    assert s.bridge == new.bridge and s.config.sampler == "dbim" and s.options == {"eta": 0.3}
    torch.testing.assert_close(s.timesteps, new.timesteps)
    with pytest.warns(FutureWarning, match="deprecated"):
        s.set_timesteps(3, sampler="fast")
    assert s.sampler == "dbim" and s.num_function_evals == 3


def test_a_new_sampler_is_one_registered_class():
    """The registry is the one extension point: a registered class is usable by name at once."""
    from lddbm.samplers import SAMPLERS, Evaluation, Sampler, register

    @register
    class OneStep(Sampler):
        name, summary, options, stochastic_option = "one-step-test", "returns D at T", (), None

        def plan(self, steps):
            return [Evaluation("d", self.bridge.sigma_max, None)]

        def step(self, ev, denoised, x, source, noise):
            return denoised

    try:
        s = BridgeScheduler(sampler="one-step-test")
        x = torch.ones(1, 2)
        assert s.num_function_evals == 1 and torch.equal(s.step(2 * x, s.timesteps[0], x, source=x).prev_sample, 2 * x)
    finally:
        del SAMPLERS["one-step-test"]


@pytest.mark.parametrize("sampler", ["heun", "dbim"])
def test_diffusion_from_noise_reaches_the_conditional_distribution(sampler):
    """Conditional diffusion (kind="diffusion"): from T * noise, the deterministic samplers (EDM's Heun,
    DBIM = DDIM here, first order, so it needs more steps) carry noise to samples of x0 | xT, with the
    exact denoiser."""
    errors = []
    for steps in (3, 10, 40, 100):
        r, _ = gaussian_run(sampler, steps, 0.0, kind="diffusion")
        errors.append(abs(r.std().item() - 1) + abs(r.mean().item()))
    assert errors[0] > errors[1] > errors[2] > errors[3]
    assert errors[2 if sampler == "heun" else 3] < 0.05


def test_diffusion_preconditioning_is_edms():
    from lddbm.bridge import Bridge

    b = Bridge(kind="diffusion", sigma_data=0.5)
    t = torch.tensor([0.01, 0.7, 80.0], dtype=torch.float64)
    c_skip, c_out, c_in, _ = b.scalings(t)
    s2 = 0.25
    assert torch.allclose(c_skip, s2 / (t**2 + s2)) and torch.allclose(c_in, (t**2 + s2).rsqrt())
    assert torch.allclose(c_out, t * 0.5 / (t**2 + s2).sqrt())
    x0, xT, noise = torch.ones(2, 3), torch.full((2, 3), 5.0), torch.randn(2, 3)
    assert torch.allclose(b.sample_marginal(x0, xT, 0.7, noise), x0 + 0.7 * noise)  # xT is only a condition
    assert torch.equal(b.prior(xT, noise), 80.0 * noise) and torch.equal(b.h(xT, 0.7, xT), torch.zeros(2, 3))
