"""The benchmark (`python bench/run.py`), and the public helpers that the tests share with it."""
