"""Optional integrations, each behind its extra: ``fastapi`` and ``flask`` (the app's session
dependency pointed at the test's transaction) and ``strategies`` (Hypothesis strategies aimed at
where the engines disagree). Their public import paths are ``dualdb.fastapi``,
``dualdb.flask`` and ``dualdb.hypothesis``."""
