# shellcheck shell=bash
# patch_helm DIR MAJOR: sourced by dsgate/toolbuild/build.sh when it builds helm-batch (MAJOR 4) and
# helm3-batch (MAJOR 3) (build.sh defines copy_module_source, replace_line_once, HELM_VERSION,
# HELM3_VERSION and HELM_BATCH_DIR, this folder). This file is part of both tools' version keys, with
# main.go and helm-patch/*.go: changing a patch rebuilds them.

# Copy helm's module source to DIR and change three lines, each of which must be found exactly once
# (so a helm upgrade cannot silently drop a change): ValidateAgainstSingleSchema reuses decoded and
# compiled schemas (the lines that decode and compile values.schema.json go through dsgateDecoded and
# dsgateCompiled, helm-patch/ beside this file), and EnvSettings.Namespace returns --namespace without
# loading the kubeconfig. Both majors have the same lines; they differ in where they are.
patch_helm() {
  local dir=$1 major=$2 module schema_pkg namespace_line
  case "$major" in
    4) module="helm.sh/helm/v4@$HELM_VERSION" schema_pkg=pkg/chart/common/util
       namespace_line='	if s.config != nil {' ;;
    3) module="helm.sh/helm/v3@$HELM3_VERSION" schema_pkg=pkg/chartutil
       namespace_line='	if ns, _, err := s.config.ToRawKubeConfigLoader().Namespace(); err == nil {' ;;
    *) echo "patch_helm: no helm major $major" >&2; return 1 ;;
  esac
  copy_module_source "$module" "$dir" || return 1
  local file="$dir/$schema_pkg/jsonschema.go"
  replace_line_once "$file" 'schema, err := jsonschema.UnmarshalJSON(bytes.NewReader(schemaJSON))' \
    'schema, err := dsgateDecoded(schemaJSON, func() (any, error) { return jsonschema.UnmarshalJSON(bytes.NewReader(schemaJSON)) })' || return 1
  replace_line_once "$file" 'validator, err := compiler.Compile("file:///values.schema.json")' \
    'validator, err := dsgateCompiled(schemaJSON, func() (*jsonschema.Schema, error) { return compiler.Compile("file:///values.schema.json") })' || return 1
  # EnvSettings.Namespace loads the kubeconfig files on every call (twice a render) only to return
  # the --namespace override when one is given (the kubeconfig loader returns that override first);
  # return it straight away (same answer).
  replace_line_once "$dir/pkg/cli/environment.go" "$namespace_line" \
    "	if s.namespace != \"\" { return s.namespace }; ${namespace_line#	}" || return 1
  local patch package
  package=$(sed -n 's/^package //p' "$file" | head -n 1)
  for patch in "$HELM_BATCH_DIR/helm-patch/"*.go; do  # written as package util: the schema file's package
    sed "s/^package util\$/package $package/" "$patch" >"$dir/$schema_pkg/$(basename "$patch")" || return 1
  done
}
