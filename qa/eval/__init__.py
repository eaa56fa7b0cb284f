"""Eval: measuring retrieval. Datasets (SQuAD, seed questions, BEIR) in one shape, the metrics
of a run, and choosing the ranking constants on a tuning split."""
