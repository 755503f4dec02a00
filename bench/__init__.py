"""The benchmark: our server against a ceiling and a SQLite peer, driven by wrk (run.py)."""
