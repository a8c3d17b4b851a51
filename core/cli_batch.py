"""CLI: ``python -m core retrain --symbols MSFT,AAPL|--all --backend local|dask``.

The weekly retrain of many symbols, fitted in parallel on this machine (process pool) or
on a Dask cluster (``--address tcp://scheduler:8786``; without it a LocalCluster is
started for the run). Defaults come from ``BATCH_BACKEND`` and ``DASK_ADDRESS``.
"""

from __future__ import annotations

import argparse
import sys

from core.cli import print_json
from core.errors import ValidationFailed


def _progress(fraction: float, message: str) -> None:
    print(f"[{fraction:4.0%}] {message}", file=sys.stderr, flush=True)


def _cmd_retrain(args: argparse.Namespace) -> int:
    from core.auth import SYSTEM
    from core.context import open_context
    from core.forecast.batch_retrain import retrain_many
    from core.market.store import stored_symbols

    ctx = open_context()
    if args.all:
        symbols: list[str] | str = stored_symbols(ctx.db)
        if not symbols:
            raise ValidationFailed("no stored symbols; import data first (`core ingest`)")
    elif args.symbols:
        symbols = args.symbols
    else:
        raise ValidationFailed("give --symbols MSFT,AAPL or --all")
    outcome = retrain_many(
        ctx.db, ctx.settings, symbols, SYSTEM, backend=args.backend, address=args.address,
        n_workers=args.workers, progress=_progress, force=args.force,
    )
    if args.json:
        print_json(outcome)
    else:
        for symbol, o in outcome["symbols"].items():
            if o["status"] == "saved":
                aic = f"AIC {o['aic']:.1f}" if o.get("aic") is not None else ""
                print(f"{symbol:<8} saved model {o['version_id']} as {o['role']:<10} "
                      f"{o['model']:<36} {aic}")
            elif o["status"] == "unchanged":
                print(f"{symbol:<8} {o['message']}")
            else:
                print(f"{symbol:<8} failed: {o['error']}")
        print(f"{outcome['saved']} saved, {outcome['failed']} failed in {outcome['seconds']:.1f} s "
              f"({outcome['backend']}, {outcome['workers']} workers); challengers are promoted "
              "with `core promote --version N` (gated)")
    return 0 if outcome["failed"] == 0 else 1


def register(sub: argparse._SubParsersAction) -> None:
    from core.forecast.batch import BACKENDS, default_address

    p = sub.add_parser("retrain", help="refit many symbols in parallel and save challengers")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--symbols", help="comma-separated, e.g. MSFT,AAPL")
    which.add_argument("--all", action="store_true", help="every stored symbol")
    p.add_argument("--backend", choices=BACKENDS, default=None,
                   help="where to fit (default: BATCH_BACKEND, else local)")
    p.add_argument("--address", default=default_address(),
                   help="Dask scheduler, e.g. tcp://scheduler:8786 (default DASK_ADDRESS; "
                        "none: a LocalCluster for this run)")
    p.add_argument("--workers", type=int, default=None,
                   help="worker processes (default: the cores available)")
    p.add_argument("--force", action="store_true",
                   help="refit even when no bar is newer than the champion's training end")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_retrain)
