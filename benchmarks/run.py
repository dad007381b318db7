"""Run the speed and relevance benchmarks; write benchmarks/results.json and RESULTS.md
(a quick run writes them under benchmarks/out/ instead, leaving the committed ones alone).

    python -m benchmarks.run            # full: 10k and 50k posts, real corpora (~25 min)
    python -m benchmarks.run --quick    # 2,000 posts only (~2 min)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

from benchmarks import speed

HERE = Path(__file__).resolve().parent
# The last line of RESULTS.md and SCALE.md: a run rewrites each, so what was measured by
# hand is kept apart.
HAND_MEASUREMENTS = ("Measurements made by hand (before/after comparisons, figures taken "
                     "again) are in HISTORY.md, which no benchmark run rewrites.\n")


def machine() -> dict:
    pages, page_size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    return {
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "ram_gb": round(pages * page_size / 2**30, 1),
        "python": sys.version.split()[0],
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "load_average_at_start": os.getloadavg(),
    }


def run_relevance(quick: bool) -> dict:
    """The relevance half lives in benchmarks/relevance.py (written separately)."""
    try:
        from benchmarks import relevance
    except ModuleNotFoundError as exc:
        if exc.name != "benchmarks.relevance":
            raise
        message = "benchmarks/relevance.py does not exist yet: relevance NOT measured."
        print(f"\n!! {message}")
        return {"error": message, "markdown": f"## Relevance\n\n**{message}**\n"}
    try:
        return relevance.main(quick=quick)
    except Exception:  # noqa: BLE001 - keep the speed figures even if relevance breaks
        message = "relevance benchmark failed:\n\n```\n" + traceback.format_exc() + "```"
        print(f"\n!! {message}")
        return {"error": message, "markdown": f"## Relevance\n\n**{message}**\n"}


def main() -> None:
    parser = argparse.ArgumentParser(description="searchidx benchmarks")
    parser.add_argument("--quick", action="store_true", help="2,000 posts only (~2 minutes)")
    args = parser.parse_args()
    started = time.perf_counter()
    facts = machine()
    speed_figures = speed.main(quick=args.quick)
    relevance_figures = run_relevance(args.quick)
    facts["total_seconds"] = round(time.perf_counter() - started, 1)

    results = {"machine": facts, "quick": args.quick, "speed": speed_figures,
               "relevance": relevance_figures}
    # A quick run's figures are not comparable with the committed full run: keep them apart.
    folder = HERE / "out" if args.quick else HERE
    folder.mkdir(exist_ok=True)
    (folder / "results.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    load = ", ".join(f"{x:.1f}" for x in facts["load_average_at_start"])
    report = "\n".join([
        "# searchidx benchmark results",
        "",
        f"`python -m benchmarks.run{' --quick' if args.quick else ''}` on {facts['date']}: "
        f"{facts['platform']}, {facts['cpus']} CPUs, {facts['ram_gb']} GB RAM, "
        f"Python {facts['python']}; load average at start {load}; "
        f"took {facts['total_seconds']:.0f} s.",
        "",
        speed_figures["markdown"],
        relevance_figures["markdown"],
        HAND_MEASUREMENTS,
    ])
    (folder / "RESULTS.md").write_text(report)
    print("\n" + report)
    print(f"wrote {folder / 'results.json'} and {folder / 'RESULTS.md'}")


if __name__ == "__main__":
    main()
