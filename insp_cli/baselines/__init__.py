"""Baselines the paper compares INSP against: classical pixel filters (``classical``), and learned models
on pixels or on INR weights (their own modules)."""
