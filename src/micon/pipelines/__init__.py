"""Kedro pipelines: synthetic, data_engineering, modeling, reporting."""
