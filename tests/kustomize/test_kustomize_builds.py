"""Every kustomization under kustomize/ builds, is deterministic, validates strictly and is complete.

Nothing is hard-listed: bases and overlays come from discovery, and each Component is built alone on
top of every base it applies to (a temporary kustomization referencing the base and the component).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dsgate.gate.patchtargets import unmatched_patch_targets

from .support import (
    KUSTOMIZE,
    Kustomization,
    StackBuild,
    build,
    buildables,
    check_render,
    component_stacks,
    components,
    rebuild_text,
)

pytestmark = pytest.mark.render

BUILDABLES = buildables()
STACKS = component_stacks()


def _stack_id(item: tuple[Kustomization, tuple[str, ...]]) -> str:
    comp, base_names = item
    return f"{comp.rel}+{'+'.join(base_names)}"


def test_discovery_finds_something_to_build() -> None:
    # Discovery feeds every parametrised test below; an empty or component-less tree must fail here,
    # not pass vacuously.
    assert [k for k in BUILDABLES if k.is_base], "no bases discovered under kustomize/bases"
    assert [k for k in BUILDABLES if k.is_overlay], "no overlays discovered under kustomize/overlays"
    assert STACKS, "no components discovered under kustomize/components"


@pytest.mark.parametrize("kust", BUILDABLES, ids=lambda k: k.rel)
def test_build_is_valid_and_complete(kust: Kustomization) -> None:
    assert check_render(build(kust.path).render) == []


def _tree(root: Path) -> set[str]:
    """Every file and directory below ROOT, relative."""
    out: set[str] = set()
    for dirpath, subdirs, files in os.walk(root):
        out |= {os.path.relpath(os.path.join(dirpath, name), root) for name in files}
        out |= {os.path.relpath(os.path.join(dirpath, name), root) + "/" for name in subdirs}
    return out


@pytest.mark.parametrize("kust", BUILDABLES, ids=lambda k: k.rel)
def test_rebuild_is_identical_and_leaves_no_files(kust: Kustomization) -> None:
    # Same bytes twice; and kustomize (which may pull charts into charts/ directories or leave
    # temporary files) must not add anything under kustomize/ while building from the local charts.
    first = build(kust.path).text
    before = _tree(KUSTOMIZE)
    assert rebuild_text(kust.path) == first
    assert _tree(KUSTOMIZE) - before == set()


@pytest.mark.parametrize("kust", BUILDABLES, ids=lambda k: k.rel)
def test_every_patch_target_selects_something(kust: Kustomization) -> None:
    # kustomize silently ignores a patch whose target matches nothing; this catches it.
    assert [str(t) for t in unmatched_patch_targets(kust.path, build(kust.path).objects)] == []


@pytest.mark.parametrize("item", STACKS, ids=_stack_id)
def test_component_alone_on_base_is_valid_and_deterministic(
    item: tuple[Kustomization, tuple[str, ...]], stack_build: StackBuild
) -> None:
    directory, built = stack_build(*item)
    assert check_render(built.render) == []
    assert rebuild_text(directory) == built.text


@pytest.mark.parametrize("comp", components(), ids=lambda k: k.rel)
def test_component_patch_targets_select_something_on_some_stack(comp: Kustomization, stack_build: StackBuild) -> None:
    # Per-agent patches (e.g. resources-small's fluentd patch) legitimately match nothing on the
    # other agent's base, but each must match on at least one base the component applies to.
    unmatched_per_stack = [
        {str(t) for t in unmatched_patch_targets(comp.path, stack_build(c, base_names)[1].objects)}
        for c, base_names in STACKS
        if c == comp
    ]
    assert unmatched_per_stack, f"{comp.rel} is applied to no stack"
    assert set.intersection(*unmatched_per_stack) == set()
