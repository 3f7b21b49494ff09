"""Reports (adapter): the savings report and the self-contained HTML report with embedded charts.

`_sources` resolves where measured cost comes from (store or bundled sample); `_savings` compares
realised cost with a stated baseline; `_html` renders charts (matplotlib, Agg, inline PNG) and tables.
"""
