#!/usr/bin/env bash
# Build, cache and locate dsgate's pinned tools.
#
#   hack/tools.sh install [TOOL...]   build every missing tool (or the named ones)
#   hack/tools.sh path TOOL           print the cached binary's path (exit 1 if absent)
#   hack/tools.sh bindir              print the directory of symlinks for PATH
#   hack/tools.sh doctor              table of tool, pinned, found, path; exit 1 on any gap
#
# Versions come from versions.env only. Binaries are cached outside the repo in
# $DSGATE_CACHE (default ${XDG_CACHE_HOME:-~/.cache}/dsgate), one directory per
# tool and version, so every clone of the repo (CI is a fresh clone) reuses them.
# A binary is built in a temporary directory, checked by running it, and only
# then renamed into place: a failed build never leaves a file that passes for a
# good one.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=../versions.env
source "$ROOT/versions.env"
CACHE=${DSGATE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dsgate}
export GOTOOLCHAIN=${GOTOOLCHAIN:-$GO_TOOLCHAIN}
export GOFLAGS=${GOFLAGS:--buildvcs=false}
export CGO_ENABLED=0

TOOLS=(helm helm-batch helm3 opa conftest regal kustomize kube-apiserver kube-controller-manager kube-scheduler kubectl etcd kwok kwokctl node_exporter)

die() { echo "dsgate tools: $*" >&2; exit 2; }

version_of() {
  case "$1" in
    helm) echo "$HELM_VERSION" ;;
    # keyed by helm's version and the hash of our source, so an edit rebuilds it
    helm-batch) echo "$HELM_VERSION-$(cat "$ROOT/hack/helm-batch/main.go" "$ROOT/hack/helm-batch/patch-helm.sh" "$ROOT/hack/helm-batch/helm-patch/"*.go | sha256sum | cut -c1-12)" ;;
    helm3) echo "$HELM3_VERSION" ;;
    opa) echo "$OPA_VERSION" ;;
    conftest) echo "$CONFTEST_VERSION" ;;
    regal) echo "$REGAL_VERSION" ;;
    kustomize) echo "$KUSTOMIZE_VERSION" ;;
    kube-apiserver|kube-controller-manager|kube-scheduler|kubectl) echo "$KUBERNETES_VERSION" ;;
    etcd) echo "$ETCD_VERSION" ;;
    kwok|kwokctl) echo "$KWOK_VERSION" ;;
    node_exporter) echo "$NODE_EXPORTER_VERSION" ;;
    *) die "unknown tool '$1' (known: ${TOOLS[*]})" ;;
  esac
}

tool_dir() { echo "$CACHE/tools/$1/$(version_of "$1")"; }
tool_path() { echo "$(tool_dir "$1")/$1"; }

# The command that prints a tool's version, and the string it must contain.
version_check() {
  local tool=$1 bin=$2 v want out
  v=$(version_of "$tool"); want=${v#v}; want=${want%%-*}
  # Capture first: `cmd | grep -q` under pipefail fails at random when grep exits before cmd is done (SIGPIPE).
  out=$(case "$tool" in
    helm|helm3) "$bin" version --short ;;
    helm-batch) echo '{"args":["version","--short"]}' | "$bin" ;;
    opa) "$bin" version ;;
    conftest) "$bin" --version ;;
    regal) "$bin" version ;;
    kustomize) "$bin" version ;;
    kube-*) "$bin" --version ;;
    kubectl) "$bin" version --client ;;
    etcd) "$bin" --version ;;
    kwok|kwokctl) "$bin" --version ;;
    node_exporter) "$bin" --version 2>&1 ;;
  esac 2>/dev/null) || true
  grep -qF "$want" <<<"$out" || die "$tool at $bin does not report version $want; delete $(dirname "$bin") and run 'make setup'"
}

go_available() {
  command -v go >/dev/null 2>&1 || die "go is not on PATH; install Go >= 1.26 (Debian: golang, or /usr/local/go/bin) and retry"
}

# A throwaway module in which `go build` resolves PKG at VERSION with REPLACES
# (lines "mod => mod version") applied.
make_module() {
  local dir=$1 require=$2 replaces=$3
  mkdir -p "$dir"
  { echo "module dsgate.local/build"; echo; echo "go 1.26"; echo
    echo "require $require"; [ -z "$replaces" ] || printf 'replace (\n%s\n)\n' "$replaces"; } >"$dir/go.mod"
  printf 'package build\n' >"$dir/doc.go"
}

# Staging modules a k8s.io/kubernetes release replaces with ./staging: taken
# from that release's own go.mod, mapped to the published v0.X.Y tags.
k8s_replaces() {
  local v=$1 mod staged
  mod=$(go mod download -json "k8s.io/kubernetes@$v" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  [ -f "$mod" ] || die "cannot download k8s.io/kubernetes@$v through the Go module proxy"
  staged="v0.${v#v1.}"
  awk -v s="$staged" '$2 == "=>" && $3 ~ /^\.\/staging\// { print "\t" $1 " => " $1 " " s }' "$mod"
}

etcd_replaces() {
  local v=$1
  for m in go.etcd.io/etcd/api/v3 go.etcd.io/etcd/client/pkg/v3 go.etcd.io/etcd/client/v3 go.etcd.io/etcd/pkg/v3; do
    printf '\t%s => %s %s\n' "$m" "$m" "$v"
  done
}

build() {
  local tool=$1 v out tmp work ldflags minor
  v=$(version_of "$tool")
  out=$(tool_dir "$tool")
  tmp=$(mktemp -d "$CACHE/tmp/$tool.XXXXXX")
  trap 'rm -rf "$tmp"; trap - RETURN' RETURN
  work="$CACHE/build/$tool-$v"
  echo "building $tool $v ..." >&2
  case "$tool" in
    helm)
      GOBIN="$tmp" go install -trimpath -ldflags "-s -w -X helm.sh/helm/v4/internal/version.version=$v -X helm.sh/helm/v4/internal/version.gitTreeState=clean" \
        "helm.sh/helm/v4/cmd/helm@$v" ;;
    helm-batch)
      # helm v4's own module with three lines changed (hack/helm-batch/patch-helm.sh).
      make_module "$work" "helm.sh/helm/v4 $HELM_VERSION" "helm.sh/helm/v4 => ./helm"
      rm -f "$work/doc.go"; sed -i 's/^module .*/module dsgate.local\/helmbatch/' "$work/go.mod"
      cp "$ROOT/hack/helm-batch/main.go" "$work/main.go"
      # shellcheck source=helm-batch/patch-helm.sh
      (source "$ROOT/hack/helm-batch/patch-helm.sh" && patch_helm "$work/helm") || return 1
      (cd "$work" && go mod tidy >&2 &&
       go build -trimpath -ldflags "-s -w -X helm.sh/helm/v4/internal/version.version=$HELM_VERSION -X helm.sh/helm/v4/internal/version.gitTreeState=clean" -o "$tmp/helm-batch" .) ;;
    helm3)
      # chartutil.k8sVersion* set the default .Capabilities.KubeVersion as helm's own Makefile does.
      minor=${KUBERNETES_VERSION#v1.}; minor=${minor%%.*}
      GOBIN="$tmp" go install -trimpath -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$v \
        -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$minor \
        -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$minor" \
        "helm.sh/helm/v3/cmd/helm@$v"
      mv "$tmp/helm" "$tmp/$tool" ;;
    opa)
      GOBIN="$tmp" go install -trimpath -ldflags "-s -w -X github.com/open-policy-agent/opa/v1/version.Version=${v#v}" \
        "github.com/open-policy-agent/opa@$v" ;;
    conftest)
      GOBIN="$tmp" go install -trimpath -ldflags "-s -w -X github.com/open-policy-agent/conftest/internal/version.Version=${v#v}" \
        "github.com/open-policy-agent/conftest@$v" ;;
    regal)
      # Regal v0.29.2 parses the files it lints with OPA v0.70's default, Rego v0, and has no option
      # for v1 (later versions do, but the proxy does not serve them). The one change: its parser
      # options (internal/parse) ask for Rego v1, the syntax of this library and of OPA 1.x.
      make_module "$work" "github.com/styrainc/regal $REGAL_VERSION" "github.com/styrainc/regal => ./regal"
      copy_module_source "github.com/styrainc/regal@$REGAL_VERSION" "$work/regal" || return 1
      replace_line_once "$work/regal/internal/parse/parse.go" '		ProcessAnnotation: true,' '		ProcessAnnotation: true, RegoVersion: ast.RegoV1,' || return 1
      (cd "$work" && GOFLAGS="$GOFLAGS -mod=mod" go build -trimpath -ldflags "-s -w -X github.com/styrainc/regal/pkg/version.Version=${REGAL_VERSION#v}" \
        -o "$tmp/regal" github.com/styrainc/regal) ;;
    kustomize)
      GOBIN="$tmp" go install -trimpath -ldflags "-s -w -X sigs.k8s.io/kustomize/api/provenance.version=kustomize/$v" \
        "sigs.k8s.io/kustomize/kustomize/v5@$v" ;;
    kwok|kwokctl)
      GOBIN="$tmp" go install -trimpath -ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=${v#v} -X sigs.k8s.io/kwok/pkg/consts.KubeVersion=${KUBERNETES_VERSION#v}" \
        "sigs.k8s.io/kwok/cmd/$tool@$v" ;;
    node_exporter)
      GOBIN="$tmp" go install -trimpath -ldflags "-s -w -X github.com/prometheus/common/version.Version=${v#v}" \
        "github.com/prometheus/node_exporter@$v" ;;
    kube-apiserver|kube-controller-manager|kube-scheduler|kubectl)
      minor=${v#v1.}; minor=${minor%%.*}
      make_module "$work" "k8s.io/kubernetes $v" "$(k8s_replaces "$v")"
      ldflags="-s -w"
      for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
        ldflags="$ldflags -X $pkg.gitVersion=$v -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
      done
      # `go get` of the command package (not just the module) records every go.sum entry it needs.
      (cd "$work" && go get "k8s.io/kubernetes/cmd/$tool@$v" >&2 &&
       go build -trimpath -ldflags "$ldflags" -o "$tmp/" "k8s.io/kubernetes/cmd/$tool") ;;
    etcd)
      make_module "$work" "go.etcd.io/etcd/server/v3 $v" "$(etcd_replaces "$v")"
      (cd "$work" && go get "go.etcd.io/etcd/server/v3@$v" >&2 &&
       go build -trimpath -ldflags "-s -w" -o "$tmp/etcd" go.etcd.io/etcd/server/v3) ;;
  esac || die "building $tool $v failed (see the go output above); fix the cause and run 'make setup' again"
  [ -x "$tmp/$tool" ] || die "building $tool $v produced no binary"
  version_check "$tool" "$tmp/$tool"
  mkdir -p "$out"
  mv -f "$tmp/$tool" "$out/$tool.new" && mv -f "$out/$tool.new" "$out/$tool"
}

ensure() {
  local tool=$1 bin
  bin=$(tool_path "$tool")
  if [ -x "$bin" ] && (version_check "$tool" "$bin") 2>/dev/null; then return 0; fi
  go_available
  mkdir -p "$CACHE/tmp"
  build "$tool"
}

# The directory of MODULE@VERSION's source in the Go module cache, downloaded through the proxy.
module_dir() {
  local dir
  dir=$(go mod download -json "$1" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -d "$dir" ] || { echo "dsgate tools: cannot download $1 through the Go module proxy" >&2; return 1; }
  echo "$dir"
}

# A writable copy of MODULE@VERSION's source at DIR, for a build that patches it.
copy_module_source() {
  local src
  src=$(module_dir "$1") || return 1
  rm -rf "$2" && cp -r "$src" "$2" && chmod -R u+w "$2"
}

# Replace the line OLD, which must occur exactly once in FILE, with NEW (both literal): a patch to a
# pinned module's source fails the build, rather than silently doing nothing, once an upgrade moves
# the line.
replace_line_once() {
  local file=$1 old=$2 new=$3
  if [ "$(grep -cF -- "$old" "$file")" != 1 ]; then
    echo "dsgate tools: $file no longer has the line '$old' exactly once; update the patch for this version" >&2
    return 1
  fi
  OLD=$old NEW=$new perl -0pi -e 's/\Q$ENV{OLD}\E/$ENV{NEW}/' "$file"
}

# CRD schemas the gate validates against, copied from the Go modules that publish them
# (files under $CACHE/crds/<name>/<version>/). Never hand-written.
install_crds() {
  local name mod v dir src tmp
  for spec in "prometheus-operator github.com/prometheus-operator/prometheus-operator $PROMETHEUS_OPERATOR_VERSION example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml example/prometheus-operator-crd/monitoring.coreos.com_podmonitors.yaml" \
              "vertical-pod-autoscaler k8s.io/autoscaler/vertical-pod-autoscaler $VPA_VERSION deploy/vpa-v1-crd-gen.yaml" \
              "flux-source github.com/fluxcd/source-controller $FLUX_SOURCE_CONTROLLER_VERSION config/crd/bases/source.toolkit.fluxcd.io_gitrepositories.yaml config/crd/bases/source.toolkit.fluxcd.io_helmrepositories.yaml config/crd/bases/source.toolkit.fluxcd.io_ocirepositories.yaml config/crd/bases/source.toolkit.fluxcd.io_helmcharts.yaml config/crd/bases/source.toolkit.fluxcd.io_buckets.yaml" \
              "flux-kustomize github.com/fluxcd/kustomize-controller $FLUX_KUSTOMIZE_CONTROLLER_VERSION config/crd/bases/kustomize.toolkit.fluxcd.io_kustomizations.yaml" \
              "argo-cd github.com/argoproj/argo-cd/v3 $ARGOCD_VERSION manifests/crds/application-crd.yaml manifests/crds/applicationset-crd.yaml"; do
    read -r name mod v files <<<"$spec"
    dir="$CACHE/crds/$name/$v"
    [ -d "$dir" ] && continue
    go_available
    src=$(module_dir "$mod@$v") || die "cannot download $mod@$v through the Go module proxy (needed for CRD schemas)"
    tmp=$(mktemp -d "$CACHE/tmp/crds.XXXXXX")
    for f in $files; do cp "$src/$f" "$tmp/" || die "$mod@$v has no $f"; done
    mkdir -p "$(dirname "$dir")" && mv "$tmp" "$dir"
  done
}

# The HelmRelease CRD: the helm-controller module is not served by the Go module proxy (403), its API
# module is. The CRD is generated from that API module's types with controller-gen, as helm-controller's
# own build generates it (same markers, same tool).
install_flux_helm_crd() {
  local dir="$CACHE/crds/flux-helm/$FLUX_HELM_CONTROLLER_API_VERSION" src tmp gen
  [ -d "$dir" ] && return 0
  go_available
  gen="$CACHE/tmp/controller-gen-$CONTROLLER_TOOLS_VERSION"
  if [ ! -x "$gen/controller-gen" ]; then
    GOBIN="$gen" go install "sigs.k8s.io/controller-tools/cmd/controller-gen@$CONTROLLER_TOOLS_VERSION" \
      || die "cannot build controller-gen $CONTROLLER_TOOLS_VERSION through the Go module proxy (needed for the HelmRelease CRD)"
  fi
  tmp=$(mktemp -d "$CACHE/tmp/flux-helm.XXXXXX")
  copy_module_source "github.com/fluxcd/helm-controller/api@$FLUX_HELM_CONTROLLER_API_VERSION" "$tmp/api" \
    || die "cannot download github.com/fluxcd/helm-controller/api@$FLUX_HELM_CONTROLLER_API_VERSION through the Go module proxy"
  (cd "$tmp/api" && "$gen/controller-gen" crd paths=./v2/... output:crd:artifacts:config="$tmp/out") \
    || die "controller-gen could not generate the HelmRelease CRD from github.com/fluxcd/helm-controller/api@$FLUX_HELM_CONTROLLER_API_VERSION"
  [ -f "$tmp/out/helm.toolkit.fluxcd.io_helmreleases.yaml" ] || die "controller-gen wrote no helm.toolkit.fluxcd.io_helmreleases.yaml"
  mkdir -p "$(dirname "$dir")" && mv "$tmp/out" "$dir" && rm -rf "$tmp"
}

# The SARIF 2.1.0 JSON schema, from the npm package that Microsoft ships it in.
install_sarif_schema() {
  local dir="$CACHE/schemas/sarif/${SARIF_SCHEMA_NPM##*@}" tmp
  [ -f "$dir/sarif-2.1.0.json" ] && return 0
  command -v npm >/dev/null || die "npm is not on PATH; install Node.js/npm (needed for the SARIF schema) and retry"
  tmp=$(mktemp -d "$CACHE/tmp/sarif.XXXXXX")
  (cd "$tmp" && npm pack --silent "$SARIF_SCHEMA_NPM" >/dev/null && tar xzf ./*.tgz) || die "npm pack $SARIF_SCHEMA_NPM failed"
  cp "$tmp"/package/lib/schemas/sarif-2.1.0-*.json "$tmp/sarif-2.1.0.json" || die "$SARIF_SCHEMA_NPM ships no SARIF 2.1.0 schema"
  mkdir -p "$dir" && mv "$tmp/sarif-2.1.0.json" "$dir/sarif-2.1.0.json" && rm -rf "$tmp"
}

link_all() {
  local bindir="$CACHE/bin" tool
  mkdir -p "$bindir"
  for tool in "${TOOLS[@]}"; do
    [ -x "$(tool_path "$tool")" ] && ln -sfn "$(tool_path "$tool")" "$bindir/$tool"
  done
  return 0
}

doctor() {
  local tool bin found rc=0
  printf '%-24s %-10s %-10s %s\n' TOOL PINNED FOUND PATH
  for tool in "${TOOLS[@]}"; do
    bin=$(tool_path "$tool")
    if [ -x "$bin" ] && (version_check "$tool" "$bin") 2>/dev/null; then found=$(version_of "$tool")
    elif [ -x "$bin" ]; then found=WRONG; rc=1
    else found=MISSING; bin="-"; rc=1; fi
    printf '%-24s %-10s %-10s %s\n' "$tool" "$(version_of "$tool")" "$found" "$bin"
  done
  for f in "$CACHE/crds/prometheus-operator/$PROMETHEUS_OPERATOR_VERSION" "$CACHE/crds/vertical-pod-autoscaler/$VPA_VERSION" \
           "$CACHE/crds/flux-source/$FLUX_SOURCE_CONTROLLER_VERSION" "$CACHE/crds/flux-kustomize/$FLUX_KUSTOMIZE_CONTROLLER_VERSION" \
           "$CACHE/crds/flux-helm/$FLUX_HELM_CONTROLLER_API_VERSION" "$CACHE/crds/argo-cd/$ARGOCD_VERSION" \
           "$CACHE/schemas/sarif/${SARIF_SCHEMA_NPM##*@}/sarif-2.1.0.json"; do
    if [ -e "$f" ]; then printf '%-24s %-10s %-10s %s\n' schema - ok "$f"; else printf '%-24s %-10s %-10s %s\n' schema - MISSING "$f"; rc=1; fi
  done
  return $rc
}

cmd=${1:-install}; shift || true
case "$cmd" in
  install)
    if [ $# -eq 0 ]; then set -- "${TOOLS[@]}" schemas; fi
    # Each tool in a subshell: one failed build is reported but does not stop the others.
    failed=()
    for t in "$@"; do
      if [ "$t" = schemas ]; then (mkdir -p "$CACHE/tmp"; install_crds; install_flux_helm_crd; install_sarif_schema) || failed+=("$t")
      else (ensure "$t") || failed+=("$t"); fi
    done
    link_all
    [ ${#failed[@]} -eq 0 ] || die "not installed: ${failed[*]} (see the errors above)" ;;
  path) bin=$(tool_path "${1:?tool}"); [ -x "$bin" ] && echo "$bin" ;;
  bindir) echo "$CACHE/bin" ;;
  cache) echo "$CACHE" ;;
  doctor) doctor ;;
  *) die "unknown command '$cmd' (install, path, bindir, cache, doctor)" ;;
esac
