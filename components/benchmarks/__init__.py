"""Benchmarks on public datasets (``anomflow benchmark …``)."""
