"""``make bench``: realistic data at village-county scale, the app under gunicorn, and
the issue's latency goals, each measured beside a floor taken in the same run.

Run ``python -m bench --help``; the figures and their analysis are in BENCHMARKS.md.
"""
