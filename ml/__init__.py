"""Anomaly models, correlation analysis and forecasts."""
