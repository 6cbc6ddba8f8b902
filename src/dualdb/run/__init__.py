"""The run's state, free of pytest: the legs collected, paired (also across xdist workers),
compared, re-run when diverged, and what a baseline already knew."""
