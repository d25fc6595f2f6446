"""Sales forecasting: statistical models and Prophet, chosen per series by backtest,
with calibrated intervals and coherent per-group forecasts (docs/forecasting.md)."""

from custintel.forecasting.pipeline import FORECAST_COLUMNS, ForecastResult, forecast_panel

__all__ = ["FORECAST_COLUMNS", "ForecastResult", "forecast_panel"]
