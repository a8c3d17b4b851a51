"""The first screen on the bundled data: a card per bundled symbol with a champion, its next
forecast, a sparkline, and a plain "bundled sample" label instead of a red age."""

from __future__ import annotations

from core.auth import SYSTEM
from core.context import AppContext, open_context
from core.demo import load_demo
from core.market.sample import SAMPLE_SYMBOLS
from core.settings import Settings
from tests.app.conftest import assert_clean, run_page


def _texts(at) -> str:  # type: ignore[no-untyped-def]
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    parts += [f"{m.label} {m.value} {m.delta}" for m in at.metric]
    return "\n".join(str(p) for p in parts)


def test_overview_shows_every_bundled_symbol_with_a_champion(app_env: Settings) -> None:
    ctx: AppContext = open_context(app_env)
    load_demo(ctx.db, ctx.settings, SYSTEM, replay_days=2)
    at = run_page("overview.py")
    assert_clean(at)
    text = _texts(at)
    for symbol in SAMPLE_SYMBOLS:
        assert f"#### {symbol}" in text
    assert text.count("**Champion** #") == len(SAMPLE_SYMBOLS)
    assert text.count("**Next forecast**") == len(SAMPLE_SYMBOLS)
    assert text.count("Bundled sample data") == len(SAMPLE_SYMBOLS)
    assert "trading days old" not in text and "No champion model yet" not in text
    assert not [b for b in at.button if b.key == "ov_load_demo"]  # the demo is loaded
    assert len(at.get("vega_lite_chart")) == len(SAMPLE_SYMBOLS)  # the sparklines


def test_load_demo_is_offered_while_the_demo_is_not_loaded(sample_app: AppContext) -> None:
    at = run_page("overview.py")
    assert_clean(at)
    assert [b for b in at.button if b.key == "ov_load_demo"]
    assert "bundled sample" in _texts(at)
