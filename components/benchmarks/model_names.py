"""The model names every benchmark report uses, importable without numpy or torch (the
CLI's start-up reads them for its defaults)."""

ALL_MODELS = ("anomaly_transformer", "omnianomaly", "student", "lstm_ae", "pca", "iforest")
