"""stormrun's one plotting style: figure sizes, resolution, fonts, colormaps and line styles
shared by every PNG the project draws — the quick-look pictures of an output file
(scripts/stormrun-quicklook) and the benchmark suite's plots (benchmarks/suite_report.py).

matplotlib with the Agg backend (no display); nothing is downloaded (no map data, no web
fonts: DejaVu Sans ships with Debian's python3-matplotlib).

  sys.path.insert(0, "<repository>/python")
  import stormrun_plotstyle as style
  fig, ax = style.figure("chart")
  ...
  style.save(fig, "plot.png")
"""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

# Resolution of every saved PNG (figures are created at it too, so that an axes' window
# extent is in the saved image's pixels).
DPI = 100

# Figure sizes in inches, by kind.
FIGSIZE = {
    "map": (8.0, 4.4),      # one lat-lon field with its colour bar
    "pair": (13.0, 4.0),    # two lat-lon panels side by side (ensemble mean and spread)
    "series": (8.0, 4.4),   # a quantity over lead time
    "chart": (6.0, 4.0),    # a benchmark plot
}


def bar_chart_size(nbars):
    """Size of a horizontal bar chart of nbars bars (the suite's figures against targets)."""
    return (9.0, 0.32 * nbars + 1.5)


FONT_FAMILY = "DejaVu Sans"
FONT_SIZE = 9          # tick labels, axis labels, legends
TITLE_SIZE = 10
SMALL_SIZE = 7         # dense tick labels (many bars), footnotes

# Colormaps: a field of one sign, a field of both signs (centred on zero), a spread (>= 0).
CMAP_SEQUENTIAL = "viridis"
CMAP_DIVERGING = "RdBu_r"
CMAP_SPREAD = "magma_r"

# Lines: an ensemble member thin and light, the ensemble mean thick and dark.
MEMBER_LINE = {"lw": 0.9, "alpha": 0.75}
MEAN_LINE = {"lw": 2.8, "color": "black"}

# Verdicts and reference lines of the benchmark plots.
COLOR_PASS = "tab:green"
COLOR_MISS = "tab:red"
COLOR_REFERENCE = "gray"
COLOR_PRIMARY = "tab:blue"
COLOR_SECONDARY = "tab:orange"

RC = {
    "font.family": FONT_FAMILY,
    "font.size": FONT_SIZE,
    "axes.titlesize": TITLE_SIZE,
    "axes.labelsize": FONT_SIZE,
    "figure.titlesize": TITLE_SIZE + 1,
    "legend.fontsize": FONT_SIZE - 1,
    "xtick.labelsize": FONT_SIZE - 1,
    "ytick.labelsize": FONT_SIZE - 1,
    "figure.dpi": DPI,
    "savefig.dpi": DPI,
    "axes.grid": False,
    "image.cmap": CMAP_SEQUENTIAL,
}


def apply():
    """Set the style's rcParams (idempotent)."""
    matplotlib.rcParams.update(RC)


def figure(kind, ncols=1, size=None, **kwargs):
    """A new (fig, axes) in the style; kind is a key of FIGSIZE, size overrides it."""
    apply()
    return plt.subplots(1, ncols, figsize=size or FIGSIZE[kind], dpi=DPI, **kwargs)


def save(fig, path, tight=True):
    """Lay out (tight_layout unless the figure is laid out already), write the PNG at DPI,
    close the figure."""
    if tight:
        fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
