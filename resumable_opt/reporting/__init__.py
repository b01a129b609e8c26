"""What the user sees: progress while running, the best-so-far file, summaries,
the rows of the trials (as tables, CSV, JSON, Parquet) and plots."""
