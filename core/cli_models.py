"""CLI subcommands for models: fit, backtest, predict, models, promote, rollback."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from core.cli import date_arg, print_json
from core.errors import ValidationFailed


def _order(raw: str) -> list[int]:
    try:
        parts = [int(x) for x in raw.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r} is not an order; use p,d,q e.g. 1,1,1") from None
    if len(parts) != 3 or min(parts) < 0:
        raise argparse.ArgumentTypeError(f"{raw!r} is not an order; use p,d,q e.g. 1,1,1")
    return parts


def _count(minimum: int) -> Callable[[str], int]:
    """An argparse type for a whole number >= ``minimum`` (``--folds 0`` on backtest
    ended in a traceback; ``fit --folds -3`` saved a model with no backtest)."""

    def parse(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{raw!r} is not a whole number; use {minimum} or more") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be {minimum} or more, got {value}")
        return value

    parse.__name__ = f"integer >= {minimum}"  # argparse names the type in its error
    return parse


def _progress(fraction: float, message: str) -> None:
    print(f"[{fraction:4.0%}] {message}", file=sys.stderr, flush=True)


# The LSTM's settings the CLI exposes, by their names in ``LSTM.__init__`` (``--batch-size``
# is ``batch_size``). Unset options keep the estimator's defaults.
LSTM_SETTINGS = ("window", "units", "layers", "dropout", "epochs", "batch_size", "seed")


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _lstm_options(args: argparse.Namespace, members: list[dict[str, Any]]) -> dict[str, Any]:
    """The LSTM settings given on the command line, checked to belong to an LSTM."""
    given = {n: getattr(args, n) for n in LSTM_SETTINGS if getattr(args, n, None) is not None}
    if given and args.model != "lstm" and not any(m["kind"] == "lstm" for m in members):
        flags = ", ".join(_flag(n) for n in given)
        raise ValidationFailed(f"{flags}: LSTM settings need --model lstm, or --model ensemble "
                               "with lstm among --members (e.g. auto_arima,lstm,naive)")
    return given


def _options(args: argparse.Namespace) -> dict[str, Any]:
    options: dict[str, Any] = {}
    members: list[dict[str, Any]] = []
    if args.model == "ensemble":
        members = [{"kind": m.strip()} for m in args.members.split(",") if m.strip()]
    lstm = _lstm_options(args, members)
    if args.model == "lstm":
        options.update(lstm)
    if getattr(args, "weighting", None) is not None:
        if args.model != "ensemble":
            raise ValidationFailed(f"--weighting applies to --model ensemble, not {args.model}")
        options["weighting"] = args.weighting
    if args.model in ("auto_arima",):
        options["engine"] = args.engine
    if args.model in ("arima", "arimax"):
        if args.order is None:
            raise ValidationFailed(f"--model {args.model} needs --order p,d,q (e.g. 1,1,1)")
        options["order"] = args.order
    if args.model == "arimax":
        if not args.exog:
            raise ValidationFailed("--model arimax needs --exog, e.g. --exog volume,open")
        options["exog"] = [c.strip().lower() for c in args.exog.split(",") if c.strip()]
        options["exog_policy"] = args.exog_policy
        options["horizon"] = args.horizon
    if args.model == "ensemble":
        options["members"] = [{**m, **lstm} if m["kind"] == "lstm" else m for m in members]
    if args.model != "ensemble":
        options["log"] = not args.no_log
    # Bad settings are refused here, before any data is read (the estimator's own checks).
    check_options(args.model, options)
    return options


def check_options(kind: str, options: dict[str, Any]) -> None:
    """Build (and drop) the forecaster: its ``__init__`` refuses bad settings by name."""
    from core.forecast.factory import make_forecaster

    make_forecaster(kind, **options)


def _cmd_fit(args: argparse.Namespace) -> int:
    from core.auth import SYSTEM
    from core.context import open_context
    from core.forecast.service import FitRequest, fit_model, save_model

    options = _options(args)
    ctx = open_context()
    request = FitRequest(
        symbol=args.symbol, kind=args.model, options=options, start=args.start,
        end=args.end, folds=args.folds, horizon=args.horizon,
    )
    fitted = fit_model(ctx.db, ctx.settings, request, progress=_progress)
    version = save_model(ctx.db, ctx.settings, fitted, SYSTEM)
    # The criteria only (no standard errors); an ensemble's summary for its members' weights.
    summary = (fitted.summary if fitted.forecaster.kind == "ensemble"
               else fitted.forecaster.criteria())
    aic = summary.get("aic")
    print(f"saved model {version.id} ({summary.get('label')}) for {version.symbol} as "
          f"{version.role}; trained {version.train_start}..{version.train_end} "
          f"({version.n_obs:,} days), "
          + (f"AIC {aic:.1f}" if aic is not None else "no AIC (not a likelihood model)"))
    if summary.get("weights"):
        print("weights: " + ", ".join(
            f"{m.get('label', m.get('kind'))} {w:.2f}"
            for m, w in zip(summary.get("members") or [], summary["weights"], strict=True)))
    if fitted.backtest is not None:
        print(f"backtest: {fitted.backtest.beats_naive_text}; "
              f"RMSE {fitted.backtest.summary['rmse']:.4g} vs naive "
              f"{fitted.backtest.naive_summary['rmse']:.4g}")
    return 0


def _cmd_backtest(args: argparse.Namespace) -> int:
    from core.context import open_context
    from core.forecast.service import FitRequest, fit_model

    options = _options(args)
    ctx = open_context()
    request = FitRequest(symbol=args.symbol, kind=args.model, options=options,
                         start=args.start, end=args.end, folds=args.folds, horizon=args.horizon)
    fitted = fit_model(ctx.db, ctx.settings, request, progress=_progress)
    report = fitted.backtest
    assert report is not None
    if args.json:
        print_json(report.to_dict())
        return 0
    print(f"{report.model}: {report.beats_naive_text} (h={report.horizon}, refit {report.refit})")
    frame = report.folds_frame()
    print(frame[["origin", "rmse", "naive_rmse", "mae_ratio", "mase", "naive_mase", "coverage80",
                 "coverage95"]].to_string(float_format=lambda v: f"{v:.4g}"))
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    from core.context import open_context
    from core.forecast.service import forecast

    ctx = open_context()
    view = forecast(ctx.db, ctx.settings, args.symbol, args.days, issued_by="cli")
    frame = view.result.to_frame().reset_index()
    frame["naive"] = view.naive.mean
    if args.json:
        payload = {
            "symbol": view.symbol,
            "model_version": view.version.id,
            "model": (view.version.spec or {}).get("label", view.version.kind),
            "data_date": view.data_date.isoformat(),
            "beats_naive": view.beats_naive,
            "band_method": view.band_method,
            "warnings": view.warnings,
            "forecast": [
                {"date": day.date().isoformat(), "mean": float(m), "lo80": float(a),
                 "hi80": float(b), "lo95": float(c), "hi95": float(d), "naive": float(n)}
                for day, m, a, b, c, d, n in zip(
                    view.result.dates, view.result.mean, view.result.lo80, view.result.hi80,
                    view.result.lo95, view.result.hi95, view.naive.mean, strict=True,
                )
            ],
        }
        print_json(payload)
        return 0
    for warning in view.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    label = (view.version.spec or {}).get("label", view.version.kind)
    print(f"{view.symbol} from {view.data_date} with model {view.version.id} ({label}), "
          f"bands {view.band_method}")
    if view.beats_naive is False:
        print("note: this model did not beat the naive forecast in its backtest")
    print(frame.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    return 0


def _cmd_models(args: argparse.Namespace) -> int:
    from core.context import open_context
    from core.forecast.service import versions

    ctx = open_context()
    rows = [
        {
            "id": v.id, "role": v.role + (" (stale)" if v.stale else ""),
            "model": (v.spec or {}).get("label", v.kind), "engine": v.engine,
            "trained": f"{v.train_start}..{v.train_end}", "aic": v.aic,
            "beats_naive": ((v.backtest or {}).get("beats_naive") or {}).get("text"),
            "created_by": v.created_by, "created_at": v.created_at,
        }
        for v in versions(ctx.db, args.symbol)
    ]
    if args.json:
        print_json(rows)
        return 0
    if not rows:
        print(f"no saved models for {args.symbol.upper()}")
    for r in rows:
        aic = f"{r['aic']:.1f}" if r["aic"] is not None else "-"
        print(f"{r['id']:>4}  {r['role']:<18}{r['model']:<36}{r['trained']:<24}AIC {aic:<10}"
              f"{r['beats_naive'] or ''}")
    return 0


def _cmd_promote(args: argparse.Namespace) -> int:
    from core.auth import SYSTEM
    from core.context import open_context
    from core.forecast.lifecycle import promote

    ctx = open_context()
    outcome = promote(ctx.db, ctx.settings, args.version, SYSTEM, override_reason=args.override,
                      override_for=args.version)
    print(f"model {outcome.version.id} is now the champion of {outcome.version.symbol}"
          + (f" (was {outcome.previous.id})" if outcome.previous else ""))
    if outcome.gate is not None:
        print(outcome.gate.text + ("; gate overridden" if outcome.overridden else ""))
    return 0


def _cmd_rollback(args: argparse.Namespace) -> int:
    from core.auth import SYSTEM
    from core.context import open_context
    from core.forecast.lifecycle import rollback

    ctx = open_context()
    version = rollback(ctx.db, args.symbol, SYSTEM, to_version_id=args.to, reason=args.reason)
    print(f"model {version.id} is the champion of {version.symbol} again")
    return 0


def _model_args(p: argparse.ArgumentParser, *, min_folds: int) -> None:
    from core.forecast import KINDS

    p.add_argument("--symbol", required=True)
    p.add_argument("--model", choices=KINDS, default="auto_arima")
    p.add_argument("--engine", choices=("statsforecast", "pmdarima"), default="statsforecast")
    p.add_argument("--order", type=_order, help="p,d,q for --model arima/arimax")
    p.add_argument("--exog", help="arimax exogenous columns from open,high,low,volume")
    p.add_argument("--exog-policy", choices=("lagged", "forecast"), default="lagged")
    p.add_argument("--members", default="auto_arima,drift,naive",
                   help="ensemble members (kinds), comma-separated")
    p.add_argument("--weighting", help="ensemble weights: inverse_mse (the default) or "
                   "backtest (the convex weights with the smallest combined backtest error)")
    lstm = p.add_argument_group("LSTM settings (--model lstm, or an lstm ensemble member; "
                                "unset: the LSTM's defaults)")
    lstm.add_argument("--window", type=int, help="returns in each input window")
    lstm.add_argument("--units", type=int, help="units per LSTM layer")
    lstm.add_argument("--layers", type=int, help="stacked LSTM layers")
    lstm.add_argument("--dropout", type=float, help="input dropout share, 0 <= d < 1")
    lstm.add_argument("--epochs", type=int, help="most training epochs (early stopping)")
    lstm.add_argument("--batch-size", type=int, help="mini-batch size")
    lstm.add_argument("--seed", type=int, help="random seed (same seed, same data: same model)")
    p.add_argument("--no-log", action="store_true", help="model prices, not log prices")
    p.add_argument("--start", type=date_arg, help="first training date")
    p.add_argument("--end", type=date_arg, help="last training date")
    p.add_argument("--folds", type=_count(min_folds), default=5,
                   help="backtest folds" + (" (0 skips the backtest; such a model cannot "
                                            "pass the promotion gate)" if min_folds == 0 else ""))
    p.add_argument("--horizon", type=_count(1), default=5)


def register(sub: argparse._SubParsersAction) -> None:
    fit = sub.add_parser("fit", help="fit a model, backtest it against naive and save it")
    _model_args(fit, min_folds=0)
    fit.set_defaults(func=_cmd_fit)

    bt = sub.add_parser("backtest", help="rolling-origin backtest against the naive forecast")
    _model_args(bt, min_folds=1)
    bt.add_argument("--json", action="store_true")
    bt.set_defaults(func=_cmd_backtest)

    pr = sub.add_parser("predict", help="the champion's forecast (logged to the ledger)")
    pr.add_argument("--symbol", required=True)
    pr.add_argument("--days", type=_count(1), default=7)
    pr.add_argument("--json", action="store_true")
    pr.set_defaults(func=_cmd_predict)

    ms = sub.add_parser("models", help="saved model versions of a symbol")
    ms.add_argument("--symbol", required=True)
    ms.add_argument("--json", action="store_true")
    ms.set_defaults(func=_cmd_models)

    po = sub.add_parser("promote", help="make a saved version the champion (gated)")
    po.add_argument("--version", type=int, required=True)
    po.add_argument("--override", help="reason to promote despite failing the gate")
    po.set_defaults(func=_cmd_promote)

    rb = sub.add_parser("rollback", help="bring back the previous champion")
    rb.add_argument("--symbol", required=True)
    rb.add_argument("--reason")
    rb.add_argument("--to", type=int, default=None,
                    help="an earlier champion's model id (default: the one before the current)")
    rb.set_defaults(func=_cmd_rollback)
