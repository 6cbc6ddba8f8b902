"""The public path of the Hypothesis strategies (``from dualdb.hypothesis import row_lists``).

The code lives in ``dualdb.contrib.strategies`` (a name that does not shadow Hypothesis
inside the package); this module only keeps the import path the README documents.
"""

from dualdb.contrib.strategies import (
    TEXT_FAULT_LINES,
    datetimes,
    decimals,
    floats,
    integers,
    json_documents,
    json_scalars,
    row_lists,
    rows,
    search_terms,
    strategy_for_column,
    text_values,
)

__all__ = ['TEXT_FAULT_LINES', 'datetimes', 'decimals', 'floats', 'integers', 'json_documents', 'json_scalars', 'row_lists', 'rows', 'search_terms', 'strategy_for_column', 'text_values']
