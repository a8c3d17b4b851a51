"""Market data: sources, validation, cleaning, storage and the trading calendar."""
