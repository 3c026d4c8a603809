"""Stress scenarios: named, validated transformations of a run's catalog data, applied in memory."""
