"""The rendered-file type and the one serialisation of a template: below every renderer.

`render` composes all rendered files, and the renderers it calls (the product, the launch role, the target
role, the prerequisites, the portfolio) each build theirs with `template_file`. Kept apart from `render` so
that the renderers import this small module and never `render` itself (no import loop).
"""

from __future__ import annotations

from dataclasses import dataclass

from troposphere import Template

from generator.config import OutputFormat, RenderConfig


@dataclass(frozen=True)
class RenderedFile:
    """One output file before it is written."""

    kind: str
    path: str
    content: bytes


def serialise(template: Template, fmt: OutputFormat) -> bytes:
    """Deterministic text of a template: keys sorted, trailing newline."""
    text: str = template.to_yaml() if fmt is OutputFormat.YAML else template.to_json(indent=2)
    return (text.rstrip("\n") + "\n").encode("utf-8")


def template_file(kind: str, stem: str, template: Template, cfg: RenderConfig) -> RenderedFile:
    """A template as the rendered file `stem.<format>` of the configured output format."""
    return RenderedFile(kind, f"{stem}.{cfg.output_format.value}", serialise(template, cfg.output_format))
