"""The real parts that the live tests and the benchmarks start: gunicorn, nginx, PostgreSQL."""
