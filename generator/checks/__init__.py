"""Everything `validate` runs over a render folder: cfn-lint with our rules (lint_rules/), checkov, the
IAM checks (launch role, run-time roles, cross-account calls, unused grants, hygiene), S3 public policy,
release gates, data capture and lifecycle, regions; and the result cache.

Imports the base modules, `iam`, `product` and `companions`: never `live`.
"""
