#!/usr/bin/env bash
# build.sh TOOL VERSION OUT WORK: build one pinned tool with Go into OUT/TOOL.
#
# Run by `dsgate tools install` (dsgate/toolbuild/install.py), which owns everything else: the tool
# table and versions (dsgate/tools.py, dsgate/data/versions.env), the cache, the version check of the
# result and its move into place. This file holds only the Go build recipes. It gets every pin of
# versions.env as an environment variable, HELM_BATCH_DIR and CELCOST_DIR (the sources of dsgate's own
# programs) and a scratch directory WORK for builds that need a module of their own.
set -euo pipefail
tool=$1 v=$2 out=$3 work=$4
export GOFLAGS=${GOFLAGS:--buildvcs=false}
export CGO_ENABLED=0

die() { echo "dsgate tools: $*" >&2; exit 1; }

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

# helm v3's link flags: its version, and the default .Capabilities.KubeVersion (chartutil.k8sVersion*)
# set as helm's own Makefile does.
helm3_ldflags() {
  local minor=${KUBERNETES_VERSION#v1.}; minor=${minor%%.*}
  echo "-s -w -X helm.sh/helm/v3/internal/version.version=$1 \
-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$minor \
-X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$minor"
}

case "$tool" in
  helm)
    GOBIN="$out" go install -trimpath -ldflags "-s -w -X helm.sh/helm/v4/internal/version.version=$v -X helm.sh/helm/v4/internal/version.gitTreeState=clean" \
      "helm.sh/helm/v4/cmd/helm@$v" ;;
  helm-batch)
    # helm v4's own module with three lines changed (patch-helm.sh beside helm-batch's main.go).
    make_module "$work" "helm.sh/helm/v4 $HELM_VERSION" "helm.sh/helm/v4 => ./helm"
    rm -f "$work/doc.go"; sed -i 's/^module .*/module dsgate.local\/helmbatch/' "$work/go.mod"
    cp "$HELM_BATCH_DIR/main.go" "$HELM_BATCH_DIR/helm4.go" "$work/"
    # shellcheck source=src/dsgate/data/helm-batch/patch-helm.sh
    source "$HELM_BATCH_DIR/patch-helm.sh"
    patch_helm "$work/helm" 4
    (cd "$work" && go mod tidy &&
     go build -trimpath -ldflags "-s -w -X helm.sh/helm/v4/internal/version.version=$HELM_VERSION -X helm.sh/helm/v4/internal/version.gitTreeState=clean" -o "$out/helm-batch" .) ;;
  helm3)
    GOBIN="$out" go install -trimpath -ldflags "$(helm3_ldflags "$v")" "helm.sh/helm/v3/cmd/helm@$v"
    mv "$out/helm" "$out/$tool" ;;
  helm3-batch)
    # helm v3's command tree is package main of its cmd/helm: helm-batch's request loop (main.go,
    # helm3.go) goes into that package, whose own main is renamed; built in helm's own module, with
    # helm-batch's three lines changed (patch-helm.sh).
    mkdir -p "$work"
    # shellcheck source=src/dsgate/data/helm-batch/patch-helm.sh
    source "$HELM_BATCH_DIR/patch-helm.sh"
    patch_helm "$work/helm" 3
    replace_line_once "$work/helm/cmd/helm/helm.go" 'func main() {' 'func helmMain() {'
    cp "$HELM_BATCH_DIR/main.go" "$HELM_BATCH_DIR/helm3.go" "$work/helm/cmd/helm/"
    (cd "$work/helm" && go build -trimpath -ldflags "$(helm3_ldflags "$v")" -o "$out/$tool" ./cmd/helm) ;;
  opa)
    GOBIN="$out" go install -trimpath -ldflags "-s -w -X github.com/open-policy-agent/opa/v1/version.Version=${v#v}" \
      "github.com/open-policy-agent/opa@$v" ;;
  conftest)
    GOBIN="$out" go install -trimpath -ldflags "-s -w -X github.com/open-policy-agent/conftest/internal/version.Version=${v#v}" \
      "github.com/open-policy-agent/conftest@$v" ;;
  kubeconform)
    GOBIN="$out" go install -trimpath -ldflags "-s -w -X main.version=$v" "github.com/yannh/kubeconform/cmd/kubeconform@$v" ;;
  regal)
    # Regal v0.29.2 parses the files it lints with OPA v0.70's default, Rego v0, and has no option
    # for v1 (later versions do, but the proxy does not serve them). The one change: its parser
    # options (internal/parse) ask for Rego v1, the syntax of this library and of OPA 1.x.
    make_module "$work" "github.com/styrainc/regal $v" "github.com/styrainc/regal => ./regal"
    copy_module_source "github.com/styrainc/regal@$v" "$work/regal"
    replace_line_once "$work/regal/internal/parse/parse.go" '		ProcessAnnotation: true,' '		ProcessAnnotation: true, RegoVersion: ast.RegoV1,'
    (cd "$work" && GOFLAGS="$GOFLAGS -mod=mod" go build -trimpath -ldflags "-s -w -X github.com/styrainc/regal/pkg/version.Version=${v#v}" \
      -o "$out/regal" github.com/styrainc/regal) ;;
  kustomize)
    GOBIN="$out" go install -trimpath -ldflags "-s -w -X sigs.k8s.io/kustomize/api/provenance.version=kustomize/$v" \
      "sigs.k8s.io/kustomize/kustomize/v5@$v" ;;
  kwok|kwokctl)
    GOBIN="$out" go install -trimpath -ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=${v#v} -X sigs.k8s.io/kwok/pkg/consts.KubeVersion=${KUBERNETES_VERSION#v}" \
      "sigs.k8s.io/kwok/cmd/$tool@$v" ;;
  node_exporter)
    GOBIN="$out" go install -trimpath -ldflags "-s -w -X github.com/prometheus/common/version.Version=${v#v}" \
      "github.com/prometheus/node_exporter@$v" ;;
  registry)
    # CNCF distribution, the OCI registry the chart tests push to and install from.
    GOBIN="$out" go install -trimpath -ldflags "-s -w -X github.com/distribution/distribution/v3/version.version=$v" \
      "github.com/distribution/distribution/v3/cmd/registry@$v" ;;
  kube-apiserver|kube-controller-manager|kube-scheduler|kubectl)
    minor=${v#v1.}; minor=${minor%%.*}
    make_module "$work" "k8s.io/kubernetes $v" "$(k8s_replaces "$v")"
    ldflags="-s -w"
    for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
      ldflags="$ldflags -X $pkg.gitVersion=$v -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
    done
    # `go get` of the command package (not just the module) records every go.sum entry it needs.
    (cd "$work" && go get "k8s.io/kubernetes/cmd/$tool@$v" &&
     go build -trimpath -ldflags "$ldflags" -o "$out/" "k8s.io/kubernetes/cmd/$tool") ;;
  celcost)
    # dsgate's own program (celcost/main.go beside helm-batch) over the API server's CEL packages at
    # this Kubernetes version: the same module graph as kube-apiserver's build (k8s_replaces), so after
    # that build Go's cache already holds almost every package it compiles.
    minor=${v#v1.}; minor=${minor%%.*}
    make_module "$work" "k8s.io/kubernetes $v" "$(k8s_replaces "$v")"
    rm -f "$work/doc.go"; sed -i 's/^module .*/module dsgate.local\/celcost/' "$work/go.mod"
    cp "$CELCOST_DIR/main.go" "$work/main.go"
    ldflags="-s -w -X main.version=$v"
    for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
      ldflags="$ldflags -X $pkg.gitVersion=$v -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
    done
    (cd "$work" && GOFLAGS="$GOFLAGS -mod=mod" go build -trimpath -ldflags "$ldflags" -o "$out/celcost" .) ;;
  etcd)
    make_module "$work" "go.etcd.io/etcd/server/v3 $v" "$(etcd_replaces "$v")"
    (cd "$work" && go get "go.etcd.io/etcd/server/v3@$v" &&
     go build -trimpath -ldflags "-s -w" -o "$out/etcd" go.etcd.io/etcd/server/v3) ;;
  *) die "no build recipe for '$tool'" ;;
esac
