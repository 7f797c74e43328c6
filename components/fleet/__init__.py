"""Fleet training: one model per group of assets, trained in parallel on Dask (docs/scaling.md)."""
