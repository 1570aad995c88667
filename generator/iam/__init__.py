"""IAM knowledge, as data and evaluation: what CloudFormation needs per resource type (iam_table, derived from
the resource schemas that `schemas` reads and checked against them by `schema_agreement`), what a call is
authorized against (call_resources), a small policy evaluator (iam_eval), trust policies (trust),
and the resolver that turns a rendered template into concrete ARNs (resolve).

The lowest wing: the product and companions derive their roles from it, the checks evaluate with it.
It imports only the top-level base modules.
"""
