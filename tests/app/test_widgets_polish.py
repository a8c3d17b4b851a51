"""AppTest of the small widgets the fitting page uses: the over-fitted ARMA warning and
the one table formatter."""

from __future__ import annotations

from streamlit.dataframe_util import convert_arrow_bytes_to_pandas_df
from streamlit.testing.v1 import AppTest


def _overfit_app(coefs: dict) -> AppTest:  # type: ignore[type-arg]
    def script(coefs: dict) -> None:  # type: ignore[type-arg]
        from dashboard import widgets

        widgets.arma_overfit_warning(coefs)

    at = AppTest.from_function(script, args=(coefs,), default_timeout=30)
    return at.run()


def test_an_overfitted_arma_gets_a_plain_warning() -> None:
    at = _overfit_app({"ar.L1": {"coef": -0.457, "se": 1.838},
                       "ma.L1": {"coef": 0.439, "se": 1.862}})
    assert not at.exception
    assert len(at.warning) == 1 and "over-fitted" in at.warning[0].value


def test_a_sound_fit_gets_no_warning() -> None:
    at = _overfit_app({"ar.L1": {"coef": 0.5, "se": 0.04}, "sigma2": {"coef": 1.0, "se": 0.1}})
    assert not at.exception and not at.warning


def test_table_shows_dashes_separators_and_plain_dates() -> None:
    def script() -> None:
        import pandas as pd

        from dashboard import widgets

        widgets.table(pd.DataFrame({
            "id": [1, 2], "AIC": [4401.234, None], "days": [2500, 12000],
            "trained": pd.to_datetime(["2015-01-02", "2017-11-10"]), "engine": ["pmdarima", None],
        }))

    at = AppTest.from_function(script, default_timeout=30).run()
    assert not at.exception
    shown = convert_arrow_bytes_to_pandas_df(at.dataframe[0].proto.arrow_data.styler.display_values)
    assert shown.to_dict("list") == {
        "id": ["1", "2"], "AIC": ["4,401.23", "-"], "days": ["2,500", "12,000"],
        "trained": ["2015-01-02", "2017-11-10"], "engine": ["pmdarima", "-"],
    }
