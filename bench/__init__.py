"""`make bench`: benchmarks of the local stack (time to notify, alert storms, cold imports).

See docs/benchmarks.md for what each figure measures; `python -m bench.run --help` for options.
"""
