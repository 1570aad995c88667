"""Run checkov with PLY's parse tables kept in memory: the same scan, without rebuilding one grammar's tables
hundreds of times.

Run by checkov's own interpreter (`python tests/checkov_launcher.py ARGS...`, see `generator.checks.checkov`),
never imported by the tests. Why: checkov's graph builder parses a JSONPath expression for each distinct
nested attribute it renders (checkov/common/graph/graph_builder/graph_components/blocks.py,
`_update_attribute_based_on_jsonpath_key`), and bc_jsonpath_ng builds a new PLY parser for each expression with
`write_tables=0` (bc_jsonpath_ng/parser.py `parse_token_stream`: "we regenerate the parse table every time").
Generating the LALR tables of that one grammar took 20 of 34 s of CPU when scanning the 41 rendered templates
(cProfile: `ply/yacc.py lr_parse_table`, 341 calls). PLY's own cache for this is a table module (`parsetab`)
that `yacc()` reads first and uses when its grammar signature matches; here every table module is written to a
temporary folder and registered under the name PLY imports, so the second build of a grammar reads the first's
tables, signature-checked, and binds them to the new parser's own methods as PLY always does. Nothing else of
checkov changes (tests/test_checkov.py compares a report with the plain binary's).
"""

from __future__ import annotations

import importlib.util
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any


def keep_tables(folder: Path) -> None:
    """Make `ply.yacc.yacc` write each grammar's tables into `folder` and register them for its next call."""
    import ply.yacc

    build = ply.yacc.yacc

    def yacc(*args: Any, **kwargs: Any) -> Any:
        module = kwargs.get("module")
        tabmodule = kwargs.get("tabmodule")
        if module is None or not isinstance(tabmodule, str) or args:
            return build(*args, **kwargs)  # not the keyword-only call bc_jsonpath_ng makes: PLY as it is
        package = getattr(sys.modules.get(getattr(module, "__module__", "")), "__package__", None)
        name = f"{package}.{tabmodule}" if package and "." not in tabmodule else tabmodule
        outputdir = folder / name  # one folder per table module: two grammars may share the short name
        outputdir.mkdir(exist_ok=True)
        parser = build(*args, **{**kwargs, "write_tables": True, "outputdir": str(outputdir)})
        written = outputdir / f"{name.rsplit('.', 1)[-1]}.py"
        if name not in sys.modules and written.is_file():
            spec = importlib.util.spec_from_file_location(name, written)
            if spec is not None and spec.loader is not None:
                table = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(table)
                sys.modules[name] = table
        return parser

    ply.yacc.yacc = yacc


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="checkov-ply-") as folder:
        keep_tables(Path(folder))
        from checkov.main import Checkov

        sys.argv[0] = "checkov"
        with warnings.catch_warnings():  # as checkov's own console script does
            warnings.simplefilter("ignore", category=SyntaxWarning)
            return int(Checkov().run() or 0)


if __name__ == "__main__":
    sys.exit(main())
