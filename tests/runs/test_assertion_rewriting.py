"""pytest would rewrite the asserts of every ``dualdb`` module in every process; the plugin opts out.

pytest marks a plugin distribution's top-level packages for assertion rewriting. For an
installed (non-editable) plugin that is all of ``dualdb``, re-parsed and re-compiled in
every process when bytecode is not written. The same marking happens here when the
package is importable from ``sys.path`` (``PYTHONPATH=src``), which is how this test
reproduces an installed plugin without installing one.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import dualdb

SRC = Path(dualdb.__file__).resolve().parents[1]

CHECK = '''
import sys

import dualdb.compare
import dualdb.report.markdown


def test_loaders():
    hook = next(f for f in sys.meta_path if type(f).__name__ == "AssertionRewritingHook")
    loaders = {name: type(sys.modules[name].__loader__).__name__
               for name in ("dualdb.compare", "dualdb.report.markdown", "dualdb.config")}
    print("LOADERS", loaders, "MARKED", sorted(hook._must_rewrite))
    assert "AssertionRewritingHook" not in loaders.values(), loaders
'''


def test_plugin_modules_are_not_assertion_rewritten(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PYTHONPATH", str(SRC))
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    pytester.makepyfile(test_check=CHECK)
    result = pytester.runpytest_subprocess("-s", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    # the package was marked, as for an installed plugin, and then taken off the list
    assert "'dualdb'" not in result.stdout.str().split("MARKED", 1)[1].splitlines()[0]
