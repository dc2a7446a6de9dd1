"""Tests of the metricsd Python client (unittest; run from client/python)."""
