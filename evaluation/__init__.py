"""Comparing approaches: metrics, galleries, reports."""
