"""mlops-gen: render a multi-account SageMaker project template (a Service Catalog product).

How the package is laid out, lowest first (README "How the code is laid out"):

- the base, at the top of the folder: `config` (the one validated configuration, with its cross-part rules),
  `naming`, `errors`, `contract` (names the product and the seed code share), `manifest`, `rendered` (the
  rendered-file type), `shipped` (where the seed code is), `progress`, `network` and `build_network` (what a
  VPC means for the models and the builds: SSM parameter names, settings and their checks);
- `iam/`: IAM knowledge as data and evaluation (what CloudFormation needs per type, what a call is
  authorized against, the policy evaluator, trust, the template resolver);
- `product/`: the product template and the modules that add its resources, with the seed bundle;
- `companions/`: the other rendered files (launch role, target role and its stack set, prerequisites,
  portfolio);
- `checks/`: everything `validate` runs (cfn-lint and our rules, checkov, the IAM and data checks, gates);
- `live/`: what talks to an AWS account (publish, doctor, destroy, rehearse);
- the composers, at the top of the folder: `render` (all rendered files), `graph`, `cli`.

The rule, kept by tests/test_layout.py: a module imports only its own layer and lower ones (`product` never
imports `companions`, `checks` or `live`; `checks` never imports `live`), and there are no import loops, lazy
imports inside functions included.
"""

__version__ = "0.1.0"


def main() -> None:
    """Console-script entry point. It lives here, not in `cli`, so that Ctrl-C while the CLI's modules
    are still importing exits 130 with one line instead of a traceback."""
    import sys

    try:
        from generator.cli import main as cli_main

        cli_main()
    except KeyboardInterrupt:
        sys.stderr.write("interrupted (Ctrl-C)\n")
        raise SystemExit(130) from None
