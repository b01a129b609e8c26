"""What the user sees: progress while running, the best-so-far file, summaries."""
