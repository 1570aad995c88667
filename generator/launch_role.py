"""Placeholder until the launch-role module lands."""

from __future__ import annotations

from generator.config import RenderConfig


def launch_role_files(cfg: RenderConfig) -> list:  # type: ignore[type-arg]
    return []
