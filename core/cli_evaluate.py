"""CLI subcommand ``evaluate``: replay a crisis year and a calm year of every bundled series
in memory and print the band methods side by side, the naive forecast beside them: coverage,
width, interval score, MAE ratio to naive and when the drift detectors fired, pooled, per
horizon step and per series (nothing is written to the database)."""

from __future__ import annotations

import argparse
import sys


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from core.forecast import evaluation as ev

    def progress(_: float, message: str) -> None:
        if not args.quiet:
            print(f"... {message}", file=sys.stderr, flush=True)

    cases = ev.bundled_cases()
    if args.series:
        wanted = set(args.series)
        cases = [c for c in cases if c.series in wanted or c.series.split(":")[-1] in wanted]
        if not cases:
            from core.errors import ValidationFailed

            raise ValidationFailed(
                f"no bundled series matches {sorted(wanted)}; bundled: "
                f"{', '.join(c.series for c in ev.bundled_cases())}")
    bases = ev.BASE_METHODS if args.gjr else ev.DEFAULT_BASES
    result = ev.evaluate(cases, horizon=args.horizon, train_days=args.train_days,
                         warmup=args.warmup, gamma=args.gamma, periods=tuple(args.period),
                         base_methods=bases, progress=progress)
    if args.csv:
        result.rows.to_csv(args.csv, index=False)
    print(ev.format_report(result, per_step=not args.pooled_only, per_series=args.per_series))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    from core.forecast.conformal import ACI_GAMMA

    p = sub.add_parser(
        "evaluate",
        help="replay 2008 and a calm year of the bundled series in memory; compare band methods "
             "(coverage, width, interval score, MAE vs naive, drift events)",
    )
    p.add_argument("--series", nargs="*", help="e.g. sample:MSFT bokeh:AAPL (default: all)")
    p.add_argument("--period", nargs="*", default=["crisis", "calm"],
                   choices=["crisis", "calm"])
    p.add_argument("--horizon", type=int, default=5)
    p.add_argument("--train-days", type=int, default=1000)
    p.add_argument("--warmup", type=int, default=120,
                   help="trading days before the period that feed the calibration layers")
    p.add_argument("--gamma", type=float, default=ACI_GAMMA, help="ACI step size")
    p.add_argument("--gjr", action="store_true", help="also evaluate GJR-GARCH-t bands")
    p.add_argument("--per-series", action="store_true")
    p.add_argument("--pooled-only", action="store_true")
    p.add_argument("--csv", help="write every scored forecast row to this CSV file")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_cmd_evaluate)
