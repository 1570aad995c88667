"""Where the seed code and its Jinja2 sources are: the checkout's top-level folders, else the installed copies.

`seedcode/` and `templates/` stay top-level folders of the project and ship inside the wheel as
`generator/seedcode` and `generator/templates` (pyproject.toml). A base module, so that the seed bundle
(generator/product/seed.py), the project roles (the endpoint template's resource types) and `destroy` (the
stack-set waiter model) find them without importing each other.
"""

from __future__ import annotations

from pathlib import Path


def _shipped(folder: str) -> Path:
    """A top-level source folder: the checkout's copy, else the one installed with the package."""
    checkout = Path(__file__).resolve().parent.parent / folder
    return checkout if checkout.is_dir() else Path(__file__).resolve().parent / folder


SEED_DIR = _shipped("seedcode") / "modeldeploy"
TEMPLATE_DIR = _shipped("templates") / "modeldeploy"
