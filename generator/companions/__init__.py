"""The other rendered files, around the product: the launch role, the target role and its stack set, the
data-science account's prerequisites, and the portfolio.

Imports the base modules, `iam` and `product`: never `checks` or `live`.
"""
