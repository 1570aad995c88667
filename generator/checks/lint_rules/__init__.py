"""Our own cfn-lint rules (E91xx), appended to cfn-lint's by `generator.checks.validate`.

cfn-lint loads this folder with `--append-rules DIR` / `ManualArgs(append_rules=[DIR])`: it walks the
folder (`os.walk`, so subfolders too), imports every file matching `[A-Za-z1-9]*.py` *on its own* (a
top-level module named after the file, never put in `sys.modules`) and instantiates every class in it
that subclasses `CloudFormationLintRule` (cfnlint.helpers.load_plugins / create_rules, cfn-lint 1.58).

Consequences for this folder:
- this `__init__.py` and the private `_*.py` modules are skipped by the loader;
- rule files import shared code by its absolute name (`generator.checks.lint_rules._pipeline`), never relatively;
- rule files must not define dataclasses: `dataclasses` looks the defining module up in `sys.modules`
  and fails for a module cfn-lint loaded (shared dataclasses live in `_pipeline.py`);
- a rule class imported into a second rule file would be instantiated twice: import helpers, not rules.
"""
