"""mlops-gen: render a multi-account SageMaker project template (a Service Catalog product)."""

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
