# shellcheck shell=bash
# patch_helm DIR: sourced by dsgate/toolbuild/build.sh when it builds helm-batch (build.sh defines
# copy_module_source, replace_line_once, HELM_VERSION and HELM_BATCH_DIR, this folder). This file is part of helm-batch's
# version key, with main.go and helm-patch/*.go: changing a patch rebuilds the tool.

# Copy helm's module source to DIR and change three lines, each of which must be found exactly once
# (so a helm upgrade cannot silently drop a change): ValidateAgainstSingleSchema reuses decoded and
# compiled schemas (the lines that decode and compile values.schema.json go through dsgateDecoded and
# dsgateCompiled, helm-patch/ beside this file), and EnvSettings.Namespace returns --namespace without
# loading the kubeconfig.
patch_helm() {
  local dir=$1 file
  copy_module_source "helm.sh/helm/v4@$HELM_VERSION" "$dir" || return 1
  file="$dir/pkg/chart/common/util/jsonschema.go"
  replace_line_once "$file" 'schema, err := jsonschema.UnmarshalJSON(bytes.NewReader(schemaJSON))' \
    'schema, err := dsgateDecoded(schemaJSON, func() (any, error) { return jsonschema.UnmarshalJSON(bytes.NewReader(schemaJSON)) })' || return 1
  replace_line_once "$file" 'validator, err := compiler.Compile("file:///values.schema.json")' \
    'validator, err := dsgateCompiled(schemaJSON, func() (*jsonschema.Schema, error) { return compiler.Compile("file:///values.schema.json") })' || return 1
  # EnvSettings.Namespace loads the kubeconfig files on every call (twice a render) only to return
  # the --namespace override when one is given; return it straight away (same answer).
  replace_line_once "$dir/pkg/cli/environment.go" '	if s.config != nil {' \
    '	if s.namespace != "" { return s.namespace }; if s.config != nil {' || return 1
  cp "$HELM_BATCH_DIR/helm-patch/"*.go "$dir/pkg/chart/common/util/"
}
