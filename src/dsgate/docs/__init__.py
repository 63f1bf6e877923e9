"""Generators of the checked-in docs and schemas: the policy `catalogue`, the chart values tables
(`chartdocs`), and the Kubernetes types in the charts' values schemas (`chartschema`)."""
