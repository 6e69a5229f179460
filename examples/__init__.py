"""Runnable examples; each is tested in tests/examples/ (the distributed one in
tests/redis/test_readme_distributed.py)."""
