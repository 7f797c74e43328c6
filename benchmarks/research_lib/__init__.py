"""Helpers of the one-off SKAB studies (``benchmarks/skab_*.py``) only, kept outside the
installed package: drift-tracking residuals (:mod:`.drift_tracking`), one model for many
recordings (:mod:`.fleet`) and the command line of a preprocessed SKAB run
(:mod:`.preprocessed`). The studies put the repository root on ``sys.path`` and import
them as ``benchmarks.research_lib.<module>``; they use the package (``components``) only
through its detector interface and benchmark protocol."""
