"""Ticker symbol validation: the one place that says what a symbol may look like."""

from __future__ import annotations

import re

from core.errors import ValidationFailed

# Yahoo symbols: letters, digits, '.', '-', '^' (indices) and '=' (FX/futures), up to 15 chars.
_SYMBOL = re.compile(r"^[A-Z0-9^][A-Z0-9.\-=^]{0,14}$")


def check_symbol(raw: object) -> str:
    """Return the normalised (upper-case, stripped) symbol or raise ``ValidationFailed``.

    >>> check_symbol(" msft ")
    'MSFT'
    """
    if not isinstance(raw, str) or not raw.strip():
        raise ValidationFailed("a symbol is required, e.g. MSFT or BRK-B")
    symbol = raw.strip().upper()
    if not _SYMBOL.match(symbol) or ".." in symbol:
        raise ValidationFailed(
            f"{raw!r} is not a valid symbol: use 1-15 letters, digits, '.', '-', '^' or '=' "
            "(e.g. MSFT, BRK-B, ^GSPC)"
        )
    return symbol


def check_symbols(raw: str | list[str]) -> list[str]:
    """Split a comma-separated list (or take a list), validate each, drop duplicates in order."""
    items = raw.split(",") if isinstance(raw, str) else list(raw)
    symbols: list[str] = []
    for item in items:
        if isinstance(item, str) and not item.strip():
            continue
        symbol = check_symbol(item)
        if symbol not in symbols:
            symbols.append(symbol)
    if not symbols:
        raise ValidationFailed("at least one symbol is required, e.g. MSFT,AAPL")
    return symbols


# Yahoo suffix -> exchange_calendars code. A symbol without a suffix trades on the
# EXCHANGE default (XNYS unless configured).
YAHOO_SUFFIX_EXCHANGE: dict[str, str] = {
    "L": "XLON",   # London
    "IL": "XLON",  # London international order book
    "AX": "XASX",  # Australia
    "T": "XTKS",   # Tokyo
    "HK": "XHKG",  # Hong Kong
    "DE": "XETR",  # Xetra
    "F": "XFRA",   # Frankfurt
    "PA": "XPAR",  # Paris
    "AS": "XAMS",  # Amsterdam
    "BR": "XBRU",  # Brussels
    "MI": "XMIL",  # Milan
    "MC": "XMAD",  # Madrid
    "SW": "XSWX",  # SIX Swiss
    "ST": "XSTO",  # Stockholm
    "OL": "XOSL",  # Oslo
    "CO": "XCSE",  # Copenhagen
    "HE": "XHEL",  # Helsinki
    "TO": "XTSE",  # Toronto
    "V": "XTSX",   # TSX Venture
    "SA": "BVMF",  # Sao Paulo
    "JO": "XJSE",  # Johannesburg
    "KS": "XKRX",  # Korea
    "SI": "XSES",  # Singapore
    "NZ": "XNZE",  # New Zealand
    "TA": "XTAE",  # Tel Aviv
    "BO": "XBOM",  # Bombay
    "NS": "XBOM",  # NSE India (exchange_calendars has no XNSE; same sessions)
}


def exchange_from_suffix(symbol: str, default: str = "XNYS") -> str:
    """The exchange a Yahoo symbol trades on, from its suffix; ``default`` without one.

    >>> exchange_from_suffix("VOD.L"), exchange_from_suffix("BRK-B"), exchange_from_suffix("7203.T")
    ('XLON', 'XNYS', 'XTKS')
    """
    if "." not in symbol:
        return default
    return YAHOO_SUFFIX_EXCHANGE.get(symbol.rsplit(".", 1)[1].upper(), default)
