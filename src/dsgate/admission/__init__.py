"""The policy library at admission: ValidatingAdmissionPolicies (and optional MutatingAdmissionPolicies)
generated from the rules' METADATA and the CEL written beside each rule, and installed all-or-nothing.

library reads the rules and their CEL, params builds the DsgateParameters CRD and object, policies one
rule's policy and binding, exemptions the CEL conditions of the exemptions, mutations the
MutatingAdmissionPolicies, render the whole set, localserver a private API server that type-checks
policies, verify runs a set there before render prints it, install puts a set into a cluster and takes
it out, cli is `dsgate admission`.
"""
