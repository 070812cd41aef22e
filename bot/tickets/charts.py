"""Charts as PNG bytes (matplotlib, Agg backend): the same data gives the same bytes."""

import io
from datetime import date

# Colour-blind-safe palette (Okabe-Ito), in a fixed order so issues keep their colours.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")


def new_tickets_chart(days: list[date], series: dict[str, list[int]], *, title: str) -> bytes:
    """Stacked bars of new tickets per day, one colour per issue."""
    # Imported here: matplotlib is slow to import and only digests draw. A bare Figure (no
    # pyplot) renders with Agg and keeps no global state between charts.
    import matplotlib
    from matplotlib.figure import Figure

    with matplotlib.rc_context({"svg.hashsalt": "triage", "font.size": 8}):
        figure = Figure(figsize=(8.4, 3.2), dpi=100)
        axes = figure.subplots()
        positions = list(range(len(days)))
        bottom = [0] * len(days)
        for index, (label, counts) in enumerate(series.items()):
            axes.bar(
                positions, counts, bottom=bottom, label=label,
                color=PALETTE[index % len(PALETTE)], width=0.8,
            )  # fmt: skip
            bottom = [b + c for b, c in zip(bottom, counts, strict=True)]
        axes.set_xticks(positions, [f"{d:%d %b}" for d in days], rotation=45, ha="right")
        axes.set_ylabel("new tickets")
        axes.set_title(title)
        axes.yaxis.get_major_locator().set_params(integer=True)
        if not series:
            axes.text(0.5, 0.5, "no new tickets", ha="center", va="center",
                      transform=axes.transAxes)  # fmt: skip
            axes.set_ylim(0, 1)
        else:
            axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, frameon=False)
        axes.spines[["top", "right"]].set_visible(False)
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", metadata={"Software": None}, bbox_inches="tight")
        return buffer.getvalue()
