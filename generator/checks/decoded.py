"""Template texts decoded once per process with cfn-lint's decoder (line marks kept for findings).

The folder checks (IAM, S3 policies, data capture, hygiene, regions, cross-account) each read the same few
templates: a validation decoded 52 texts, about 10 of them distinct; decoding each once takes the folder checks
from about 0.5 s to 0.3 s of CPU (benchmarks/README.md, fifth pass). The result is shared, so callers must not
change it (`iam_check.decode_template` hands a copy to callers that may edit); `tests/test_cache.py` runs every
folder check and requires each shared template to equal a fresh decode afterwards. cfn-lint's own run
(`validate.run_cfn_lint`) keeps a private decode: its runner may annotate the template it is given.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any


@lru_cache(maxsize=256)
def decode(text: str) -> tuple[Any, tuple[Any, ...]]:
    """(template, cfn-lint's decode errors) of a YAML or JSON template text; the template is None when unparsable."""
    from cfnlint.decode import decode_str

    template, matches = decode_str(text)
    return template, tuple(matches or ())
