"""The benchmark suite's outputs: the Markdown table, CSV and JSON of every figure, and the
PNG plots (matplotlib, Agg backend: no display, nothing downloaded), in the project's one
plotting style (python/stormrun_plotstyle.py, shared with scripts/stormrun-quicklook). Used
by run-suite and by the scaling sweep's gather step (jobs/stormrun-scaling-gather)."""

import csv
import json
import math
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import stormrun_plotstyle as style  # noqa: E402


def verdict(figure):
    """'pass', 'miss' or '' (no target) for a figure dict."""
    target, op, value = figure.get("target"), figure.get("op"), figure["value"]
    if target is None or op is None:
        return ""
    ok = value <= target if op == "<=" else value >= target
    return "pass" if ok else "miss"


def write_tables(figures, out_dir, header_lines=()):
    """results.md, results.csv and results.json in out_dir; returns the Markdown text."""
    os.makedirs(out_dir, exist_ok=True)
    for f in figures:
        f["verdict"] = verdict(f)
    keys = ["id", "name", "value", "unit", "op", "target", "verdict", "marked", "command"]
    with open(os.path.join(out_dir, "results.csv"), "w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=keys, extrasaction="ignore")
        writer.writeheader()
        for f in figures:
            writer.writerow({k: f.get(k, "") for k in keys})
    with open(os.path.join(out_dir, "results.json"), "w") as out:
        json.dump({"header": list(header_lines), "figures": figures}, out, indent=1)
    lines = list(header_lines) + [
        "",
        "| id | figure | value | target | result |",
        "| --- | --- | --- | --- | --- |",
    ]
    for f in figures:
        target = "" if f.get("target") is None else f"{f['op']} {f['target']:g}"
        name = f["name"] + (f" ({f['marked']})" if f.get("marked") else "")
        unit = f" {f['unit']}" if f.get("unit") else ""
        lines.append(f"| {f['id']} | {name} | {fmt(f['value'])}{unit} | {target} | "
                     f"{f['verdict']} |")
    commands = sorted({f["command"] for f in figures if f.get("command")})
    lines += ["", "Commands (WORK: the suite's work dir):", ""]
    lines += [f"- `{c}`" for c in commands]
    text = "\n".join(lines) + "\n"
    with open(os.path.join(out_dir, "results.md"), "w") as out:
        out.write(text)
    return text


def fmt(v):
    if v == 0 or not math.isfinite(v):
        return str(v)
    if abs(v) >= 1000 or abs(v) < 0.01:
        return f"{v:.3g}"
    return f"{v:.3f}"


def plot_ratios(figures, path):
    """Every figure that has a target, as value ÷ target (1 = on the target)."""
    shown = [f for f in figures if f.get("target")]
    fig, ax = style.figure("chart", size=style.bar_chart_size(len(shown)))
    names = [f"{f['id']} {f['name']}"[:60] for f in shown]
    values = [f["value"] / f["target"] for f in shown]
    colors = [style.COLOR_PASS if verdict(f) == "pass" else style.COLOR_MISS for f in shown]
    ax.barh(range(len(shown)), values, color=colors)
    ax.set_xscale("log")
    ax.axvline(1.0, color="black", lw=1)
    ax.set_yticks(range(len(shown)), names, fontsize=style.SMALL_SIZE)
    ax.invert_yaxis()
    ax.set_xlabel("figure ÷ target (green: pass; for '<=' targets below 1 passes)")
    style.save(fig, path)


def plot_commit_sizes(rows, path):
    """rows: (bytes, ratio, write_ms) of bench_checkpoint's table."""
    fig, ax = style.figure("chart")
    ax.semilogx([r[0] for r in rows], [r[1] for r in rows], "o-", label="commit ÷ raw write+fsync")
    ax.axhline(0.9, color=style.COLOR_REFERENCE, ls="--", label="P2 target at 256 MiB")
    ax.axhline(0.5, color=style.COLOR_REFERENCE, ls=":", label="P3 target (small)")
    ax.set_xlabel("state bytes per commit")
    ax.set_ylabel("throughput ratio")
    ax.legend()
    style.save(fig, path)


def plot_reconcile(rows, path):
    """rows: (dirs, seconds, peak_mib)."""
    fig, ax = style.figure("chart")
    ax.loglog([r[0] for r in rows], [r[1] for r in rows], "o-", color=style.COLOR_PRIMARY)
    ax.axhline(2.0, color=style.COLOR_PRIMARY, ls="--")
    ax.set_xlabel("rank directories")
    ax.set_ylabel("reconcile seconds (one process)", color=style.COLOR_PRIMARY)
    ax2 = ax.twinx()
    ax2.loglog([r[0] for r in rows], [r[2] for r in rows], "s-", color=style.COLOR_SECONDARY)
    ax2.set_ylabel("peak RSS MiB", color=style.COLOR_SECONDARY)
    style.save(fig, path)


def plot_scaling(rows, path, xlabel="ranks"):
    """rows: dicts with n, kind ('weak'/'strong'), efficiency, normalised (or None)."""
    fig, ax = style.figure("chart")
    for kind, marker in (("weak", "o"), ("strong", "s")):
        pts = sorted((r["n"], r["efficiency"], r.get("normalised")) for r in rows
                     if r["kind"] == kind)
        if not pts:
            continue
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker + "-", label=f"{kind}")
        if all(p[2] is not None for p in pts):
            ax.plot([p[0] for p in pts], [p[2] for p in pts], marker + "--",
                    label=f"{kind} ÷ STREAM scaling")
    ax.axhline(0.9, color=style.COLOR_REFERENCE, ls=":", label="P7 target (weak)")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("efficiency")
    ax.set_ylim(bottom=0)
    ax.legend()
    style.save(fig, path)


def plot_rss(rows, path):
    """rows: (label, rss_mib, state_mib)."""
    fig, ax = style.figure("chart")
    ax.bar([r[0] for r in rows], [r[1] for r in rows], color=style.COLOR_PRIMARY, label="peak RSS")
    if rows:
        ax.axhline(rows[0][2], color=style.COLOR_SECONDARY, ls="--", label="level-2 state")
    ax.set_ylabel("MiB per rank")
    ax.legend()
    style.save(fig, path)
