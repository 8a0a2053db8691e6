"""Plumbing every stage shares: atomic file writes and CSV, seeds and names, devices and precision, DDP."""
