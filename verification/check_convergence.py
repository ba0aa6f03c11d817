"""P5: the convergence of stochastic SAST (independent second minibatch) on a small subset, against the bound.

The problem: F(theta) = mean surrogate-mode cross-entropy over the check's samples (the subset, so full-batch
gradients are exact), over the explicit weights and biases (leaks, thresholds, beta fixed); F_inf = 0. Minibatches
B_k, B'_k are drawn i.i.d. uniformly with replacement, so they are independent and unbiased. The optimizer is the
toolkit's own `sast_models.sam.SAM` (SAST: `step(closure on B', closure on B)`). ||grad F(theta_k)||^2 is logged
on the whole subset.

1. Theorem regime (the claim): L is the smoothness constant valid on a Frobenius ball of radius R around the
   checkpoint (`theory.ball_constants`, THE hook where a local constant will plug in), with R chosen so that
   every iterate and every perturbed point stays inside a priori (R = rho + K eta G(R)) and checked a posteriori;
   the schedule eta = min(1/(4L), eta0/sqrt K), rho = rho0/K^(1/4) at each horizon K; sigma^2 = G^2 / |B|
   certified (G bounds every per-sample gradient on the ball) and estimated at theta_0. Claim: for every K' <= K
   the running average (1/K') sum_{k<K'} ||grad F(theta_k)||^2 (one realization) is below P5's right side.
2. Rates (reported, never claimed): the log-log slope of the running average against the horizon with a 95%
   confidence interval, beside the theorem's -1/2, for (a) that schedule, (b) the same schedule with the
   measured curvature L_emp (largest Hessian Rayleigh quotient at theta_0: a lower estimate, so outside the
   theorem), (c) same-batch SAM with schedule (b) (NOT covered by P5), (d) the checkpoint's own recipe
   (optimizer, lr, fixed rho: outside the theorem).
3. Fixed-rho plateau: SAST with fixed eta = 1/(4 L_emp) and fixed rho in {0, rho0, 2 rho0, 4 rho0}, runs of twice
   the largest horizon: the tail level of ||grad F||^2 against rho, its excess over the rho = 0 noise floor and
   the fitted exponent (the literature: stochastic SAM with a fixed rho plateaus at O(rho^2)).
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from scipy import stats
from torch import Tensor

from sast_core.cli import CliParser
from sast_core.errors import InputError
from sast_core.flags import Integer, ListOf, Number
from sast_models.sam import SAM
from sast_theory.theorems import P5_SCOPE

from . import theory
from .cli import Check, Setup, witness_of
from .measures import explicit_network
from .plots import convergence_chart
from .report import CheckResult, Row

HORIZONS = (4, 8, 16, 32)
BATCH = 4
POWER_ITERATIONS = 15
PLATEAU_RHOS = (0.0, 1.0, 2.0, 4.0)  # multiples of rho0
PLATEAU_LENGTH = 2  # plateau runs last this many times the largest horizon
LOG_EVERY = 2  # full-batch gradient every LOG_EVERY steps outside the theorem regime (there: every step)
# share of the budget by the end of each group of runs (theorem regime first: it carries the claim), about in
# proportion to each group's steps at the default horizons (the plateau runs are the longest)
SHARES = {"theorem": 0.2, "empirical": 0.35, "practical": 0.42, "same_batch": 0.55, "plateau": 1.0}


class SubsetProblem:
    """F(theta) = mean cross-entropy of a network (surrogate mode) on a fixed subset, over its parameters."""

    def __init__(self, net: torch.nn.Module, x: Tensor, y: Tensor) -> None:
        self.net, self.x, self.y = net, x, y
        self.params = [p for p in net.parameters()]
        self.start = [p.detach().clone() for p in self.params]

    @property
    def size(self) -> int:
        return int(self.y.numel())

    def loss(self, index: Tensor | None = None) -> Tensor:
        """Mean loss over the samples `index` (with repetitions), or the whole subset."""
        if index is None:
            return F.cross_entropy(self.net(self.x, "surrogate"), self.y)
        return F.cross_entropy(self.net(self.x[:, index], "surrogate"), self.y[index])

    def full(self) -> tuple[float, float]:
        """(F(theta), ||grad F(theta)||^2) on the whole subset."""
        loss = self.loss()
        grads = torch.autograd.grad(loss, self.params)
        return float(loss.detach()), float(sum((g * g).sum() for g in grads))

    def restart(self) -> None:
        with torch.no_grad():
            for p, p0 in zip(self.params, self.start, strict=True):
                p.copy_(p0)

    def distance(self) -> float:
        """||theta - theta_0||."""
        with torch.no_grad():
            return math.sqrt(sum(float(((p - p0) ** 2).sum()) for p, p0 in zip(self.params, self.start, strict=True)))

    def gradient_variance(self) -> float:
        """E_i ||grad l_i - grad F||^2 at the current point (the one-sample variance, exact on the subset)."""
        grads = [torch.cat([g.reshape(-1) for g in torch.autograd.grad(self.loss(torch.tensor([i])), self.params)])
                 for i in range(self.size)]
        stacked = torch.stack(grads)
        return float(((stacked - stacked.mean(0)) ** 2).sum(1).mean())

    def curvature(self, iterations: int, generator: torch.Generator) -> float:
        """Largest |v^T H v| over a power iteration on the Hessian of F: a LOWER estimate of the local L."""
        loss = self.loss()
        grads = torch.autograd.grad(loss, self.params, create_graph=True)
        v = [torch.randn(p.shape, generator=generator, dtype=p.dtype) for p in self.params]
        best = 0.0
        for _ in range(iterations):
            norm = math.sqrt(sum(float((w * w).sum()) for w in v))
            v = [w / norm for w in v]
            hv = torch.autograd.grad(grads, self.params, v, retain_graph=True)
            best = max(best, abs(sum(float((a * b).sum()) for a, b in zip(v, hv, strict=True))))
            v = [h.detach() for h in hv]
        return best


@dataclass
class Run:
    """One optimization run: its schedule and what was logged."""

    label: str
    steps: int
    eta: float
    rho: float
    same_batch: bool
    optimizer: str
    seed: int
    logged: list[int] = field(default_factory=list)  # k of every logged ||grad F(theta_k)||^2
    grad_sq: list[float] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    max_distance: float = 0.0  # max_k ||theta_k - theta_0|| (perturbed points: + rho)
    seconds: float = 0.0

    def running_average(self) -> np.ndarray:
        """Prefix means of the logged values: exactly (1/K) sum_{k<K} ||grad F(theta_k)||^2 when every step is
        logged (K = logged k + 1), else an estimate from every LOG_EVERY-th step."""
        values = np.asarray(self.grad_sq)
        return np.cumsum(values) / np.arange(1, len(values) + 1)


def run_sast(problem: SubsetProblem, run: Run, batch: int, log_every: int, lr_options: dict | None = None) -> Run:
    """`run.steps` steps of SAST (or same-batch SAM) from theta_0 with `sast_models.sam.SAM`."""
    problem.restart()
    started = time.monotonic()
    generator = torch.Generator().manual_seed(run.seed)
    options = {"lr": run.eta, **(lr_options or {})}
    base = (torch.optim.Adam(problem.params, **options) if run.optimizer == "adam"
            else torch.optim.AdamW(problem.params, **options) if run.optimizer == "adamw"
            else torch.optim.SGD(problem.params, **options))
    sam = SAM(base, run.rho)
    for k in range(run.steps):
        if k % log_every == 0 or k == run.steps - 1:
            loss, grad_sq = problem.full()
            run.logged.append(k)
            run.loss.append(loss)
            run.grad_sq.append(grad_sq)
        descent = torch.randint(problem.size, (batch,), generator=generator)
        ascent = descent if run.same_batch else torch.randint(problem.size, (batch,), generator=generator)
        sam.step(_closure(problem, ascent), _closure(problem, descent))
        run.max_distance = max(run.max_distance, problem.distance())
    run.seconds = time.monotonic() - started
    problem.restart()
    return run


def _closure(problem: SubsetProblem, index: Tensor):
    """SAM's closure: forward + backward on the minibatch `index`, returning its loss."""
    def closure() -> Tensor:
        loss = problem.loss(index)
        loss.backward()
        return loss.detach()
    return closure


@dataclass(frozen=True)
class Fit:
    """log y = intercept + slope log K, with a 95% confidence interval on the slope (t distribution)."""

    slope: float
    intercept: float
    low: float
    high: float
    points: int


def fit_rate(horizons: np.ndarray, values: np.ndarray) -> Fit | None:
    """Least-squares slope of log(values) on log(horizons); None with fewer than 3 positive points."""
    keep = (np.asarray(values) > 0) & (np.asarray(horizons) > 0)
    k, v = np.log(np.asarray(horizons, dtype=float)[keep]), np.log(np.asarray(values, dtype=float)[keep])
    if len(k) < 3 or np.ptp(k) == 0:
        return None
    slope, intercept = np.polyfit(k, v, 1)
    residual = v - (intercept + slope * k)
    se = math.sqrt(float((residual**2).sum()) / (len(k) - 2) / float(((k - k.mean()) ** 2).sum()))
    half = float(stats.t.ppf(0.975, len(k) - 2)) * se
    return Fit(float(slope), float(intercept), float(slope - half), float(slope + half), len(k))


@dataclass(frozen=True)
class Certified:
    """The theorem's constants for one horizon: the ball, L, G, eta, rho, sigma^2 (certified)."""

    horizon: int
    radius: float
    smoothness: float
    gradient: float
    eta: float
    rho: float
    sigma2: float


def certified_schedule(setup: Setup, horizon: int, rho0: float, eta0: float | None, batch: int,
                       start: float) -> Certified:
    """eta = min(1/(4L), eta0/sqrt K), rho = rho0 / K^(1/4), with L, G valid on a ball of radius R that provably
    holds every iterate and perturbed point: R = rho + K eta G(R) (iterated to a fixed point from R = start)."""
    rho = rho0 / horizon**0.25
    radius = max(start, rho)
    for _ in range(30):
        ball = theory.ball_constants(setup.description, radius)
        if ball.smoothness is None or ball.gradient is None:
            raise InputError("P5: the network's smoothness constant is infinite (A4 fails): no theorem regime")
        cap = 1.0 / (4.0 * ball.smoothness)
        eta = min(cap, eta0 / math.sqrt(horizon)) if eta0 is not None else cap
        needed = rho + horizon * eta * ball.gradient
        if needed <= radius:
            return Certified(horizon, radius, ball.smoothness, ball.gradient, eta, rho, ball.gradient**2 / batch)
        radius = needed * 1.05
    raise InputError("P5: no ball radius holds the iterates (the a priori step bound keeps growing)")


def _flags(p: CliParser) -> None:
    p.add_argument("--horizons", type=ListOf(Integer(2)), default=",".join(map(str, HORIZONS)),
                   help="comma-separated horizons K")
    p.add_argument("--batch", type=Integer(1), default=BATCH, help="minibatch size |B| = |B'|")
    p.add_argument("--rho0", type=Number(0), default=None,
                   help="rho0 of the schedule (default: the checkpoint's rho, else 0.05)")
    p.add_argument("--eta0", type=Number(0, low_open=True), default=None,
                   help="eta0 of the schedule (default: sqrt(K_min)/(4L) for each L, so eta0/sqrt K is active)")


def _options(setup: Setup) -> tuple[tuple[int, ...], int, float, float | None]:
    """(horizons, batch, rho0, eta0) from the flags (validated by their types) and the checkpoint's rho."""
    options = setup.settings.get("options", {})
    horizons = tuple(sorted(set(options.get("horizons", HORIZONS))))
    rho0 = options.get("rho0")
    if rho0 is None:
        rho0 = float(setup.header.get("hyperparameters", {}).get("rho") or 0.05)
    return horizons, int(options.get("batch", BATCH)), float(rho0), options.get("eta0")


class _Clock:
    """Group deadlines: a run of group g starts only if, at the measured cost per step and per full gradient, it
    ends by start + budget * SHARES[g] (time a group leaves unused goes to the later ones)."""

    def __init__(self, setup: Setup, full_seconds: float) -> None:
        self.start, self.budget = time.monotonic(), max(setup.time_left(), 0.0)
        self.full_seconds = full_seconds
        self.step_seconds = 2.0 * full_seconds  # until a run is measured: a step is two forward-backward passes

    def fits(self, group: str, steps: int, log_every: int) -> bool:
        cost = steps * self.step_seconds + math.ceil(steps / log_every) * self.full_seconds
        return time.monotonic() + cost <= self.start + self.budget * SHARES[group]

    def observe(self, run: Run) -> None:
        """Update the cost per step from a finished run."""
        self.step_seconds = max(0.0, run.seconds - len(run.logged) * self.full_seconds) / max(run.steps, 1)


def measure(setup: Setup, modes: tuple[str, ...]) -> CheckResult:
    horizons, batch, rho0, eta0 = _options(setup)
    result = CheckResult("convergence", "P5", {**setup.settings, "modes": list(modes), "horizons": list(horizons),
                                               "batch": batch, "rho0": rho0, "eta0": eta0},
                         figure=convergence_chart)
    problem = SubsetProblem(explicit_network(setup.net), setup.x, setup.y)
    torch.optim.SGD(problem.params, lr=0.0)  # torch imports its optimizer machinery once: not a step's cost
    problem.full()  # and its autograd kernels
    started = time.monotonic()
    gap0, grad0 = problem.full()
    clock = _Clock(setup, time.monotonic() - started)
    sigma2_estimated = problem.gradient_variance() / batch
    curvature = problem.curvature(POWER_ITERATIONS, setup.generator)
    seed = int(setup.settings.get("seed", 0))
    curves: dict = {}
    base = {"F0": gap0, "grad_norm_sq_0": grad0, "sigma2_estimated": sigma2_estimated, "L_empirical": curvature}

    # 1. theorem regime: the certified schedule at every horizon (claims)
    theorem_runs, worst = [], None
    radius = 0.0
    for horizon in setup.bar(horizons, "theorem regime"):
        if not clock.fits("theorem", horizon, 1) and theorem_runs:
            result.skipped.append(f"theorem regime, horizon {horizon}")
            continue
        c = certified_schedule(setup, horizon, rho0, eta0, batch, radius)
        radius = c.radius
        run = run_sast(problem, Run("theorem", horizon, c.eta, c.rho, False, "sgd", seed + horizon), batch, 1)
        clock.observe(run)
        averages = run.running_average()
        ks = np.arange(1, horizon + 1)
        bounds = [theory.convergence_bound(c.smoothness, c.eta, int(k), gap0, c.sigma2, c.rho) for k in ks]
        estimated = [theory.convergence_bound(c.smoothness, c.eta, int(k), gap0, sigma2_estimated, c.rho)
                     for k in ks]
        ratios = averages / np.asarray(bounds)
        theorem_runs.append((c, run, averages, bounds, estimated))
        if worst is None or ratios.max() > worst[0]:
            worst = (float(ratios.max()), c, run, int(ratios.argmax()) + 1, averages, bounds)
    if worst is not None:
        _theorem_rows(result, setup, worst, theorem_runs, gap0, sigma2_estimated, batch, rho0, eta0, horizons)
        c, run, averages, bounds, estimated = theorem_runs[-1]
        curves["theorem"] = {"K": list(range(1, run.steps + 1)), "running_average": averages.tolist(),
                             "bound": list(bounds), "bound_estimated": list(estimated), "eta": c.eta, "rho": c.rho,
                             "L": c.smoothness, "radius": c.radius}
        finals = [(r[1].steps, float(r[2][-1])) for r in theorem_runs]
        curves["schedule_certified"] = _rate_curve(result, "schedule, certified L (theorem regime)", finals)

    # 2b-2d. rates outside the theorem, then the plateau
    empirical_eta0 = eta0 if eta0 is not None else math.sqrt(horizons[0]) / (4 * curvature)
    curves["schedule"] = _horizon_rates(result, setup, problem, clock, "empirical",
                                        "schedule, measured L (outside: L not certified)", False, horizons, batch,
                                        rho0, curvature, empirical_eta0, seed)
    _practical(result, setup, problem, curves, clock, batch, horizons, seed)
    curves["same_batch"] = _horizon_rates(result, setup, problem, clock, "same_batch",
                                          "same-batch SAM, measured-L schedule (NOT covered by P5)", True, horizons,
                                          batch, rho0, curvature, empirical_eta0, seed)
    _plateau(result, setup, problem, curves, clock, batch, rho0, curvature, seed, PLATEAU_LENGTH * horizons[-1])
    result.extra["curves"] = curves
    result.extra["constants"] = base
    result.notes += [P5_SCOPE, "the theorem bounds an expectation; each run is one realization (minibatches "
                     "i.i.d. with replacement, seeds in the JSON)",
                     "rates are fitted on the running average at the end of each horizon; a slope at or below "
                     "-1/2 is what the theorem allows, a slope near 0 under eta = 1/(4L) means the certified step "
                     "is too small to move the weights within the horizon"]
    return result


def _horizon_rates(result, setup, problem, clock, group, label, same_batch, horizons, batch, rho0, curvature, eta0,
                   seed) -> dict:
    """The schedule eta = min(1/(4 L_emp), eta0/sqrt K), rho = rho0/K^(1/4) at every horizon; its rate."""
    finals = []
    for horizon in setup.bar(horizons, group):
        if not clock.fits(group, horizon, LOG_EVERY):
            result.skipped.append(f"{label}, horizon {horizon}")
            continue
        eta = min(1 / (4 * curvature), eta0 / math.sqrt(horizon))
        run = run_sast(problem, Run(group, horizon, eta, rho0 / horizon**0.25, same_batch, "sgd", seed + 7 * horizon),
                       batch, LOG_EVERY)
        clock.observe(run)
        finals.append((horizon, float(run.running_average()[-1])))
    return _rate_curve(result, label, finals)


def _theorem_rows(result, setup, worst, runs, gap0, sigma2_estimated, batch, rho0, eta0, horizons) -> None:
    ratio, c, run, k_worst, averages, bounds = worst
    terms = {"optimization": 4 * gap0 / (c.eta * k_worst), "perturbation": 3 * c.smoothness**2 * c.rho**2,
             "noise": 2 * c.smoothness * c.eta * c.sigma2}
    details = {"horizon": c.horizon, "K": k_worst, "L": c.smoothness, "G": c.gradient, "radius": c.radius,
               "eta": c.eta, "rho": c.rho, "sigma2_certified": c.sigma2, "sigma2_estimated": sigma2_estimated,
               "F0_minus_Finf": gap0, "terms": terms, "seed": run.seed, "batch": batch,
               "max_ratio_over_all_K": ratio}
    replay = witness_of("convergence", "theorem", x=setup.x, y=setup.y, horizon=c.horizon, rho0=rho0, eta0=eta0,
                        batch=batch, seed=run.seed, horizons=list(horizons))
    result.rows.append(Row(f"P5 theorem regime: (1/K) sum ||grad F||^2 vs right side (worst K = {k_worst} of "
                           f"horizon {c.horizon})", float(averages[k_worst - 1]), None, float(bounds[k_worst - 1]),
                           f"eta = 1/(4L) = {c.eta:.3g}, rho = {c.rho:.3g}", details, replay=replay))
    c, run = max(((r[0], r[1]) for r in runs), key=lambda cr: (cr[1].max_distance + cr[0].rho) / cr[0].radius)
    result.rows.append(Row("P5 ball: max ||theta_k (+ e_k) - theta_0|| vs radius R where L holds",
                           run.max_distance + c.rho, None, c.radius, f"horizon {c.horizon}: every iterate and "
                           "perturbed point", {"radii": [r[0].radius for r in runs],
                                               "distances": [r[1].max_distance + r[0].rho for r in runs]}))


def _rate_curve(result: CheckResult, label: str, finals: list[tuple[int, float]]) -> dict:
    """Fit the slope, add the (unclaimed) row, return the curve for the plot."""
    ks = [k for k, _ in finals]
    values = [v for _, v in finals]
    fit = fit_rate(np.asarray(ks), np.asarray(values)) if finals else None
    if fit is None:
        result.rows.append(Row(f"rate: {label}: slope (theorem -1/2)", math.nan, witness="fewer than 3 horizons",
                               claims=False))
        return {"K": ks, "running_average": values, "label": label}
    result.rows.append(Row(f"rate: {label}: slope (theorem -1/2)", fit.slope,
                           witness=f"95% CI [{fit.low:.3f}, {fit.high:.3f}], {fit.points} horizons",
                           details=fit.__dict__, claims=False))
    return {"K": ks, "running_average": values, "label": label, "slope": fit.slope, "intercept": fit.intercept,
            "ci": [fit.low, fit.high]}


def _practical(result, setup, problem, curves, clock, batch, horizons, seed) -> None:
    """The checkpoint's recipe (optimizer, lr, fixed rho, independent or same batch): one run to the last
    horizon, the running average at each horizon."""
    hyper = setup.header.get("hyperparameters", {})
    if not clock.fits("practical", horizons[-1], LOG_EVERY) or not hyper.get("lr"):
        result.skipped.append("practical schedule" + ("" if hyper.get("lr") else " (no recipe in the checkpoint)"))
        return
    method = hyper.get("method", "sast")
    rho = float(hyper.get("rho") or 0.0) if method != "baseline" else 0.0
    optimizer = hyper.get("optimizer", "sgd")
    options = {"weight_decay": float(hyper.get("weight_decay") or 0.0)}
    if optimizer == "sgd":
        options["momentum"] = float(hyper.get("momentum") or 0.0)
    label = f"practical: {optimizer} lr {hyper['lr']:g}, fixed rho {rho:g}, {method} (outside the theorem)"
    run = run_sast(problem, Run("practical", horizons[-1], float(hyper["lr"]), rho, method == "sam", optimizer, seed),
                   min(batch, problem.size), LOG_EVERY, options)
    clock.observe(run)
    averages = run.running_average()
    finals = [(k, float(averages[int(np.searchsorted(run.logged, k - 1, side="right")) - 1])) for k in horizons]
    curves["practical"] = _rate_curve(result, label, finals)
    curves["practical"]["every_step"] = {"k": run.logged, "running_average": averages.tolist()}


def _plateau(result, setup, problem, curves, clock, batch, rho0, curvature, seed, steps) -> None:
    """Fixed eta = 1/(4 L_emp), fixed rho in {0, rho0, 2 rho0, 4 rho0}: the tail level of ||grad F||^2 (mean over the
    last third of `steps` steps); rho = 0 is plain SGD's noise floor, and the excess over it is fitted against
    rho."""
    runs, levels = [], []
    for rho in PLATEAU_RHOS:
        rho = rho * rho0
        if not clock.fits("plateau", steps, LOG_EVERY):
            result.skipped.append(f"fixed-rho plateau, rho = {rho:g}")
            continue
        run = run_sast(problem, Run("plateau", steps, 1 / (4 * curvature), rho, False, "sgd", seed + 1000),
                       batch, LOG_EVERY)
        clock.observe(run)
        tail = float(np.mean(run.grad_sq[len(run.grad_sq) * 2 // 3:]))
        levels.append((rho, tail))
        runs.append({"k": run.logged, "grad_norm_sq": run.grad_sq, "rho": rho, "tail": tail})
    curves["plateau"] = runs
    floor = dict(levels).get(0.0)
    excess = [(r, v - floor) for r, v in levels if r > 0 and floor is not None and v > floor]
    fit = fit_rate(np.asarray([r for r, _ in excess]), np.asarray([v for _, v in excess])) if len(excess) >= 3 \
        else None
    if len(excess) == 2:
        (r1, v1), (r2, v2) = excess
        slope = math.log(v2 / v1) / math.log(r2 / r1)
        witness = "2 points, no interval"
    elif fit is not None:
        slope, witness = fit.slope, f"95% CI [{fit.low:.2f}, {fit.high:.2f}]"
    else:
        slope, witness = math.nan, "fewer than 2 runs above the rho = 0 floor"
    result.extra["plateau_exponent"] = slope if math.isfinite(slope) else None
    result.rows.append(Row("fixed-rho SAST: tail ||grad F||^2 - (rho = 0 floor) ~ rho^p, fitted p (O(rho^2) "
                           "allows p >= 2)", slope, witness=witness + "; " + ", ".join(f"rho {r:g}: {v:.3g}"
                                                                                    for r, v in levels),
                           details={"levels": levels, "steps": steps, "eta": 1 / (4 * curvature)},
                           claims=False))


def replay_theorem(setup: Setup, witness) -> tuple[float, float]:
    """Rerun the theorem-regime run of the witness (same subset, schedule, seed); (worst ratio's value, bound)."""
    params = witness.params
    setup = setup.with_budget(math.inf)
    problem = SubsetProblem(explicit_network(setup.net), witness.tensors["x"], witness.tensors["y"])
    gap0, _ = problem.full()
    radius = 0.0
    for horizon in params["horizons"]:
        c = certified_schedule(setup, horizon, params["rho0"], params["eta0"], params["batch"], radius)
        radius = c.radius
        if horizon == params["horizon"]:
            break
    run = run_sast(problem, Run("theorem", c.horizon, c.eta, c.rho, False, "sgd", params["seed"]), params["batch"], 1)
    averages = run.running_average()
    bounds = np.asarray([theory.convergence_bound(c.smoothness, c.eta, k, gap0, c.sigma2, c.rho)
                         for k in range(1, c.horizon + 1)])
    worst = int((averages / bounds).argmax())
    return float(averages[worst]), float(bounds[worst])


REPLAY = {"theorem": replay_theorem}
CHECK = Check("convergence", "P5", "SAST's running average of ||grad F||^2 vs P5, and its rate", ("surrogate",),
              ("surrogate",), measure, budget=90.0, flags=_flags, config=True)
main = CHECK.main

if __name__ == "__main__":
    sys.exit(main())
