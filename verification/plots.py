"""One picture per check, readable on its own: the values themselves (empirical, bound a priori, bound a
posteriori; log scale where they span decades) beside their ratio bound / empirical (>= 1: the bound holds),
plus the check's own panels (P1 per-neuron scatter, P4 against rho, P5 rates, P7 histograms). Legends sit
outside the axes, so they cover nothing."""

from __future__ import annotations

import io
import math
from collections.abc import Callable

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .report import CheckResult, Row  # noqa: E402

EMPIRICAL, PRIOR, POSTERIOR, VIOLATED = "#222222", "#8c8c8c", "#1f5fa8", "#c0392b"
MODE_COLORS = {"surrogate": "#1f5fa8", "hard": "#c0392b", "int8": "#2e8b57", "int4": "#d98c1f", "fixed": "#7b4ea3"}


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def _legend_below(ax, ncol: int = 1) -> None:
    """Legend under the axes' x label (for the lower panels: never over a neighbour or a title)."""
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        ax.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=ncol, fontsize=7,
                  frameon=False, borderaxespad=0.0)


def _small_ticks(ax) -> None:
    ax.tick_params(which="both", labelsize=7)


def _nothing(ax, what: str) -> None:
    """An empty panel says why it is empty."""
    ax.text(0.5, 0.5, f"no {what}: skipped by the budget (see the JSON)", transform=ax.transAxes, ha="center",
            va="center", fontsize=8, color=PRIOR)
    ax.set_xticks([])
    ax.set_yticks([])


def _power_of_two_ticks(ax, ks) -> None:
    """Integer ticks 1, 2, 4, ... on a log x axis (matplotlib's minor labels overlap over a short range)."""
    ticks = [2**j for j in range(int(math.log2(max(ks))) + 1)]
    ax.set_xticks(ticks, [str(k) for k in ticks])
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())


def _log_if_wide(ax, values: list[float], axis: str = "x") -> None:
    positive = [v for v in values if v is not None and v > 0 and math.isfinite(v)]
    if positive and max(positive) / min(positive) > 20:
        (ax.set_xscale if axis == "x" else ax.set_yscale)("log")


def _label(row: Row) -> str:
    text = row.quantity if len(row.quantity) <= 70 else row.quantity[:67] + "..."
    return text + ("  [VIOLATED]" if not row.holds else "") + ("" if row.claims else "  (no bound)")


def rows_panels(result: CheckResult, value_ax, ratio_ax) -> None:
    """Left: every row's empirical value and bounds on one axis; right: tightest bound / empirical."""
    rows = result.rows
    ys = np.arange(len(rows))
    shown: list[float] = []
    for y, row in zip(ys, rows, strict=True):
        points = [(row.empirical, EMPIRICAL, "o", "empirical (largest found)")]
        if row.claims:
            points += [(row.prior, PRIOR, "^", "bound a priori"), (row.posterior, POSTERIOR, "s", "bound a posteriori")]
        for value, color, marker, label in points:
            if value is None or not math.isfinite(value) or value <= 0:
                continue
            color = VIOLATED if (label.startswith("emp") and not row.holds) else color
            style = ({"facecolors": "none", "edgecolors": color, "linewidths": 1.1, "s": 46}  # hollow, larger:
                     if marker == "^" else {"color": color, "s": 22})  # visible around an equal a posteriori bound
            value_ax.scatter([value], [y], marker=marker, zorder=3, label=label, **style)
            shown.append(value)
        if not row.empirical > 0:
            text = "0" if row.empirical == 0 else ("-" if not math.isfinite(row.empirical) else f"{row.empirical:.3g}")
            value_ax.annotate(text, (0.0, y), xycoords=("axes fraction", "data"), fontsize=6, va="center",
                              color=EMPIRICAL, xytext=(2, 0), textcoords="offset points")
    _log_if_wide(value_ax, shown)
    if value_ax.get_xscale() == "linear" and shown:  # from 0: no offset notation for values equal to 1e-9
        value_ax.set_xlim(0.0, max(shown) * 1.12)
    value_ax.set_yticks(ys)
    value_ax.set_yticklabels([_label(row) for row in rows], fontsize=7)
    value_ax.set_ylim(len(rows) - 0.5, -0.5)
    value_ax.grid(axis="x", color="#e5e5e5", linewidth=0.6)
    value_ax.set_xlabel("value (0, negative values and values without a bound are written at the left edge)",
                        fontsize=8)
    handles = {}
    for handle, label in zip(*value_ax.get_legend_handles_labels(), strict=True):
        handles.setdefault(label, handle)
    value_ax.legend(handles.values(), handles.keys(), loc="lower left", bbox_to_anchor=(0.0, 1.01), ncol=3,
                    fontsize=7, frameon=False, borderaxespad=0.0)
    ratios = [(y, row.ratio, row.holds) for y, row in zip(ys, rows, strict=True) if row.ratio is not None]
    for y, ratio, holds in ratios:
        ratio_ax.barh([y], [ratio], color=POSTERIOR if holds else VIOLATED, height=0.55)
        ratio_ax.annotate(f"{ratio:.3g}", (ratio, y), fontsize=6, va="center", xytext=(2, 0),
                          textcoords="offset points")
    ratio_ax.axvline(1.0, color=VIOLATED, linewidth=1, linestyle="--")
    if ratios:
        top, bottom = max(r for _, r, _ in ratios), min(r for _, r, _ in ratios)
        if top / max(min(bottom, 1.0), 1e-300) > 20:
            ratio_ax.set_xscale("log")
            ratio_ax.set_xlim(min(bottom, 1.0) / 2, top * 8)
        else:
            ratio_ax.set_xlim(0, max(top, 1.0) * 1.18)
    ratio_ax.set_xlabel("bound / empirical (>= 1 holds; dashed line = 1)", fontsize=8)
    ratio_ax.tick_params(axis="y", left=False, labelleft=False)
    ratio_ax.grid(axis="x", color="#e5e5e5", linewidth=0.6)
    for ax in (value_ax, ratio_ax):
        ax.tick_params(axis="x", labelsize=7)


def _title(result: CheckResult) -> str:
    return f"{result.property} {result.check}: {'every bound holds' if result.passed else 'VIOLATED'}"


def bound_chart(result: CheckResult) -> bytes:
    """PNG bytes: the rows panels (values and ratios) of any check."""
    return composite(result, [])


def composite(result: CheckResult, extra: list[Callable], extra_height: float = 3.2) -> bytes:
    """The rows panels on top, then one full-width row of the check's own panels (callables taking an ax)."""
    rows = max(len(result.rows), 1)
    top = 0.9 + 0.26 * rows
    height = top + (extra_height + 0.6 if extra else 0.0)
    fig = plt.figure(figsize=(12, height))
    grid = fig.add_gridspec(2 if extra else 1, 1, height_ratios=[top, extra_height] if extra else [1],
                            hspace=2.6 / (top + extra_height))
    upper = grid[0].subgridspec(1, 2, width_ratios=[1.4, 1], wspace=0.05)
    value_ax = fig.add_subplot(upper[0])
    rows_panels(result, value_ax, fig.add_subplot(upper[1], sharey=value_ax))
    if extra:
        lower = grid[1].subgridspec(1, len(extra), wspace=0.35)
        for k, draw in enumerate(extra):
            draw(fig.add_subplot(lower[k]))
    value_ax.set_title(_title(result), fontsize=10, loc="left", pad=22)
    return _png(fig)


def state_chart(result: CheckResult) -> bytes:
    """P1: the rows, then per mode a scatter of each neuron's reached extreme vs its a posteriori bound."""
    per_neuron = result.extra.get("per_neuron", {})

    def scatter(mode: str, layers: dict) -> Callable:
        def draw(ax) -> None:
            lows, highs = [], []
            for layer, data in layers.items():
                for end, marker in (("upper", "o"), ("lower", "v")):
                    bound, reached = np.asarray(data[f"bound_{end}"]), np.asarray(data[f"reached_{end}"])
                    ax.scatter(bound, reached, s=5, marker=marker, alpha=0.5, label=f"{layer} {end} end")
                    lows.append(min(bound.min(initial=0), reached.min(initial=0)))
                    highs.append(max(bound.max(initial=0), reached.max(initial=0)))
            if highs:
                span = [min(lows + [0.0]), max(highs)]
                ax.plot(span, span, color=VIOLATED, linewidth=1, label="reached = bound")
            ax.set_xlabel("a posteriori per-neuron bound", fontsize=8)
            ax.set_ylabel("reached (data + attacks)", fontsize=8)
            ax.set_title(f"{mode}: per neuron (below the line = holds)", fontsize=8)
            _small_ticks(ax)
            _legend_below(ax, ncol=2)
        return draw

    return composite(result, [scatter(mode, layers) for mode, layers in per_neuron.items()])


def sam_chart(result: CheckResult) -> bytes:
    """P4: the gap found and the bound L rho^2 against rho, log-log."""
    def draw(ax) -> None:
        radii = [row.details["rho"] for row in result.rows]
        gaps = [row.empirical for row in result.rows]
        bounds = [row.posterior for row in result.rows]
        ax.loglog(radii, bounds, "s-", color=POSTERIOR, label="bound L(rho) rho^2")
        positive = [(r, g) for r, g in zip(radii, gaps, strict=True) if g > 0]
        if positive:
            ax.loglog(*zip(*positive, strict=True), "o-", color=EMPIRICAL, label="gap found")
        ax.set_xticks(radii, [f"{r:g}" for r in radii])
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_xlabel("rho (ball radius)", fontsize=8)
        ax.set_ylabel("max over ball - first-order value", fontsize=8)
        ax.set_title("P4 against rho (log-log)", fontsize=8)
        _small_ticks(ax)
        _legend_below(ax, ncol=2)
    return composite(result, [draw])


def transfer_chart(result: CheckResult) -> bytes:
    """P7: histograms of Delta / measured per mode, and Delta against the surrogate margin."""
    per_sample = result.extra.get("per_sample", {})

    def histogram(ax) -> None:
        ratios = {mode: np.clip(np.asarray(v["delta"]) / np.maximum(np.asarray(v["measured"]), 1e-300), 1e-6, 1e12)
                  for mode, v in per_sample.items()}
        every = np.concatenate(list(ratios.values()))
        low, high = min(float(every.min()), 1.0), float(every.max())
        wide = high / low > 20
        bins = np.geomspace(low, high * 1.0001, 31) if wide else np.linspace(low, high * 1.0001 + 1e-9, 31)
        for k, (mode, ratio) in enumerate(ratios.items()):  # line styles and widths: equal histograms stay visible
            ax.hist(ratio, bins=bins, histtype="step", linewidth=2.4 - 0.5 * k, color=MODE_COLORS.get(mode),
                    linestyle=("-", "--", "-.", ":")[k % 4], label=mode)
        if wide:
            ax.set_xscale("log")
        ax.axvline(1.0, color=VIOLATED, linestyle="--", linewidth=1)
        ax.set_xlabel("Delta / measured deviation per sample (>= 1 holds; dashed line = 1)", fontsize=8)
        ax.set_ylabel("samples", fontsize=8)
        ax.set_title("Delta / measured per sample", fontsize=8)
        _small_ticks(ax)
        _legend_below(ax, ncol=4)

    def margins(ax) -> None:
        top, bottom = 1e-12, math.inf
        for mode, values in per_sample.items():
            delta, margin = np.asarray(values["delta"]), np.asarray(values["margin"])
            agree = np.asarray(values["agree"], dtype=bool)
            color = MODE_COLORS.get(mode)
            ax.scatter(margin[agree], delta[agree], s=8, color=color, alpha=0.6, label=f"{mode} (agrees)")
            ax.scatter(margin[~agree], delta[~agree], s=14, color=color, marker="x", label=f"{mode} (disagrees)")
            top = max(top, float(delta.max(initial=0)), float(margin.max(initial=0)))
            positive = np.concatenate([delta[delta > 0], margin[margin > 0]])
            bottom = min(bottom, float(positive.min(initial=math.inf)))
        line = np.geomspace(min(bottom, top) / 2, top * 2, 50)
        ax.plot(line, line / 2, color=VIOLATED, linewidth=1, label="Delta = margin / 2")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("surrogate top-1 margin", fontsize=8)
        ax.set_ylabel("Delta", fontsize=8)
        ax.annotate("below the line: certified (margin > 2 Delta)", (0.98, 0.03), xycoords="axes fraction",
                    ha="right", fontsize=7, color=VIOLATED)
        ax.set_title("Delta against the surrogate margin", fontsize=8)
        _small_ticks(ax)
        _legend_below(ax, ncol=3)

    return composite(result, [histogram, margins] if per_sample else [])


def convergence_chart(result: CheckResult) -> bytes:
    """P5: running averages and the bound against K (log-log), the rate fits, and the fixed-rho plateau."""
    curves = result.extra.get("curves", {})

    def regime(ax) -> None:
        theorem = curves.get("theorem")
        if theorem:
            ks = np.asarray(theorem["K"])
            ax.loglog(ks, theorem["running_average"], color=EMPIRICAL, label="(1/K) sum ||grad F||^2")
            ax.loglog(ks, theorem["bound"], color=POSTERIOR, label="P5 right side (certified sigma^2)")
            if theorem.get("bound_estimated"):
                ax.loglog(ks, theorem["bound_estimated"], color=POSTERIOR, linestyle=":",
                          label="P5 right side (estimated sigma^2)")
            ax.set_title(f"theorem regime: eta = {theorem['eta']:.2g}, L = {theorem['L']:.3g}", fontsize=8)
            _power_of_two_ticks(ax, ks)
        else:
            _nothing(ax, "theorem-regime run")
        ax.set_xlabel("K (steps)", fontsize=8)
        _small_ticks(ax)
        _legend_below(ax)

    def rates(ax) -> None:
        anchor, horizons = None, set()
        for name, color, short in (("schedule_certified", PRIOR, "certified L (theorem)"),
                                   ("schedule", POSTERIOR, "measured L (outside)"),
                                   ("same_batch", VIOLATED, "same-batch SAM (not covered)"),
                                   ("practical", "#2e8b57", "practical recipe (outside)")):
            fit = curves.get(name)
            if not fit or not fit.get("K"):
                continue
            ks, values = np.asarray(fit["K"], dtype=float), np.asarray(fit["running_average"])
            horizons |= set(fit["K"])
            slope = fit.get("slope")
            label = f"{short}: slope {slope:.2f} [{fit['ci'][0]:.2f}, {fit['ci'][1]:.2f}]" if slope is not None \
                else short
            ax.loglog(ks, values, "o", color=color, markersize=4, label=label)
            if slope is not None:
                ax.loglog(ks, np.exp(fit["intercept"]) * ks**slope, color=color, linewidth=0.8, alpha=0.7)
            if anchor is None or len(ks) > len(anchor[0]):  # the reference slope along the longest curve
                anchor = (ks, float(values[0]))
        if anchor is not None:
            ks, first = anchor
            ax.loglog(ks, first * (ks / ks[0]) ** -0.5, color="#555555", linestyle="--", linewidth=0.8,
                      label="slope -1/2 (the theorem's rate)")
        if horizons:
            ticks = sorted(horizons)
            ax.set_xticks(ticks, [str(k) for k in ticks])
            ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        else:
            _nothing(ax, "rate runs")
        ax.set_xlabel("horizon K", fontsize=8)
        ax.set_ylabel("(1/K) sum ||grad F(theta_k)||^2", fontsize=8)
        ax.set_title("rates: running average at each horizon (95% CI)", fontsize=8)
        _small_ticks(ax)
        _legend_below(ax)

    def plateau(ax) -> None:
        for run in curves.get("plateau", []):
            ax.semilogy(run["k"], run["grad_norm_sq"], linewidth=0.8, label=f"rho = {run['rho']:g} "
                        f"(tail {run['tail']:.3g})")
        if not curves.get("plateau"):
            _nothing(ax, "plateau runs")
        exponent = result.extra.get("plateau_exponent")
        note = f": excess over rho = 0 ~ rho^{exponent:.2f}" if exponent is not None else ""
        ax.set_xlabel("step k", fontsize=8)
        ax.set_ylabel("||grad F(theta_k)||^2", fontsize=8)
        ax.set_title("fixed rho, fixed eta" + note, fontsize=8)
        _small_ticks(ax)
        _legend_below(ax, ncol=2)

    claims = CheckResult(result.check, result.property, result.settings, [r for r in result.rows if r.claims])
    return composite(claims, [regime, rates, plateau], extra_height=3.4)
