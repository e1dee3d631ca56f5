#!/usr/bin/env bash
# Renders every Kubernetes overlay under deploy/k8s/overlays (and deploy/k8s/cert-manager) with
# the kubectl on PATH (or $KUBECTL) and checks the manifests: probes, resources, security
# context, references to ConfigMaps and Secrets, namespaces, Services (see check_k8s.py). Also
# proves that the checks catch broken manifests (--self-test).
#
#   bash tests/deploy/check_k8s.sh
#   KUBECTL=/tmp/kc-deb/usr/bin/kubectl bash tests/deploy/check_k8s.sh   # another kubectl
#
# The kustomizations use only kustomize v2.0.3 fields, so both Debian 12's kubectl 1.20
# (package kubernetes-client, which tests/deps.sh installs when there is no kubectl) and a
# current kubectl render them. Needs python3 with python3-yaml.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
kubectl=${KUBECTL:-kubectl}
if ! command -v "${kubectl}" >/dev/null 2>&1; then
  echo "check_k8s.sh: no ${kubectl} on PATH: run bash tests/deps.sh (installs Debian's" \
    "kubernetes-client), or set KUBECTL to a kubectl binary" >&2
  exit 1
fi
# kubectl kustomize needs no cluster; keep it from reading any kubeconfig of this machine.
export KUBECONFIG=/dev/null
exec python3 "${here}/check_k8s.py" --kubectl "${kubectl}" --self-test
