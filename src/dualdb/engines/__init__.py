"""The engines: provision each backend and its schema (reused across runs), isolate each test
in a rolled-back transaction, reap what a killed run left. Nothing here imports pytest."""
