"""Example projects for inner pytest runs (a package, so its conftest is not imported as `conftest`)."""
