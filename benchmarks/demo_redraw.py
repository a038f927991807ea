"""How fast the demo page answers a control change (issue: within a second at default size).

A control change takes effect at Reset: a new DemoModel (corpus, citation graph
layout, mean-field curve) and the three figures redrawn as PNG. Run:

    .venv/bin/python benchmarks/demo_redraw.py

It prints the best and median of several resets with changed parameters and seeds.
"""

from __future__ import annotations

import statistics
import time


def main(repeats: int = 7) -> None:
    from sim.app import DemoModel, citation_figure, rebel_figure, training_figure

    def png(fig) -> int:
        import io

        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
        return len(buffer.getvalue())

    warm = DemoModel(seed=90)
    for draw in (training_figure, citation_figure, rebel_figure):
        png(draw(warm))
    times = []
    for attempt in range(repeats):
        start = time.perf_counter()
        model = DemoModel(situational_awareness=0.7, planted_fraction=0.2 + 0.01 * attempt, seed=91 + attempt)
        for draw in (training_figure, citation_figure, rebel_figure):
            png(draw(model))
        times.append(time.perf_counter() - start)
    print(f"reset + redraw at n_documents 10,000: best {min(times):.3f} s, median {statistics.median(times):.3f} s "
          f"over {repeats} changed configurations")


if __name__ == "__main__":
    main()
