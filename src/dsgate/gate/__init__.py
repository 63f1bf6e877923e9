"""The gate's stages, in data-flow order: sources -> render -> documents -> validate -> evaluate -> report.

`pipeline` runs them (and the deploy stage, `deploystage`); `patchtargets` checks kustomize patches.
"""
