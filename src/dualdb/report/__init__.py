"""The report: its typed model (``dualdb-report/1``), built from the run's legs, rendered for the terminal, Markdown and HTML, written to files, and what blocks ``--dualdb-strict``."""
