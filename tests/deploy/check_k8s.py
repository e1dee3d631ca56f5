#!/usr/bin/env python3
"""Renders every kustomize overlay of deploy/k8s with kubectl and checks what comes out.

    python3 tests/deploy/check_k8s.py [--kubectl PATH] [--self-test]

Overlays are the directories under deploy/k8s/overlays: "gateway" is the gateway, every other one
a region cell named after its directory (namespace tahe-<dir>, label tahe.fi/cell=<dir>).
deploy/k8s/cert-manager (the cluster's private CA issuer) is rendered too.

Checked for every Deployment: native gRPC readiness and liveness probes on the container port
named health; requests and limits for cpu and memory; runAsNonRoot, a non-zero runAsUser,
readOnlyRootFilesystem, allowPrivilegeEscalation false, capabilities drop ALL, seccomp
RuntimeDefault; ports grpc 50051, health 50052, metrics 9464; the Prometheus labels
(app.kubernetes.io/name, app.kubernetes.io/part-of=tahe, tahe.fi/cell in a cell); an image with
a tag; every ConfigMap, Secret and key it refers to exists in the rendered output (a Secret may
also come from a cert-manager Certificate) or is one of the Secrets the operator provides
(OPERATOR_SECRETS below, documented in deploy/k8s/README.md); every TAHE_* variable it sets is
one the service reads; every *_FILE path lies in a mounted volume; every $(VAR) is defined
before. Also: every namespaced object is in the overlay's namespace, namespaces and cell labels
differ between overlays, every Service selects a Deployment's pods on a named port, every
Certificate has its namespaced DNS name and a ClusterIssuer that exists. Every kustomization
uses only fields kustomize v2.0.3 knows (so kubectl 1.20 renders it whichever kubectl runs here).

--self-test breaks the rendered manifests in memory in several ways and fails unless the checker
catches every one. Needs python3-yaml (tests/deps.sh). Exit 0: all good; 1: problems (listed).
"""

import argparse
import copy
import os
import re
import shutil
import subprocess
import sys

import yaml

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tahe_config  # noqa: E402

# Secrets the operator creates in each namespace (never in git), with the keys the manifests use.
OPERATOR_SECRETS = {
    "tahe-internal-token": {"token"},
    "postgres-owner": {"username", "password"},
    "postgres-ca": {"ca.crt"},
    "ledger-db": {"username", "password"},
    "payroll-db": {"username", "password"},
    "invoicing-db": {"username", "password"},
    "reporting-db": {"username", "password"},
    "gateway-db": {"username", "password"},
    "payroll-identity-key": {"key"},
    "invoicing-identity-key": {"key"},
    "gateway-public-tls": {"tls.crt", "tls.key"},
}
# What a cert-manager Certificate's secret holds.
CERTIFICATE_KEYS = {"tls.crt", "tls.key", "ca.crt"}
PORTS = {"grpc": 50051, "health": 50052, "metrics": 9464}
CLUSTER_SCOPED = {"Namespace", "ClusterIssuer", "ClusterRole", "ClusterRoleBinding",
                  "CustomResourceDefinition", "PriorityClass", "StorageClass"}
GATEWAY = "gateway"
# The kustomization fields kustomize v2.0.3 (kubectl 1.20, Debian 12's kubernetes-client) knows;
# it refuses any other, and takes directories only in bases.
KUSTOMIZE_V2_FIELDS = {"apiVersion", "kind", "namePrefix", "nameSuffix", "namespace",
                       "commonLabels", "commonAnnotations", "resources", "bases", "crds",
                       "patchesStrategicMerge", "patchesJson6902", "configMapGenerator",
                       "secretGenerator", "generatorOptions", "vars", "images", "configurations"}


def run_kustomize(kubectl, path):
    proc = subprocess.run([kubectl, "kustomize", path], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True)
    if proc.returncode != 0:
        raise RuntimeError("%s kustomize %s failed:\n%s" % (kubectl, path, proc.stderr))
    return [d for d in yaml.safe_load_all(proc.stdout) if d]


def name_of(doc):
    return "%s/%s" % (doc.get("kind"), (doc.get("metadata") or {}).get("name"))


class Checker:
    def __init__(self):
        self.problems = []

    def fail(self, where, message):
        self.problems.append("%s: %s" % (where, message))

    # --- one overlay -----------------------------------------------------------------------

    def check_overlay(self, overlay, docs, cluster_issuers):
        is_gateway = overlay == GATEWAY
        want_ns = "tahe-%s" % overlay
        where = "overlays/%s" % overlay
        namespaces = [d for d in docs if d.get("kind") == "Namespace"]
        if [n["metadata"]["name"] for n in namespaces] != [want_ns]:
            self.fail(where, "must create exactly the Namespace %s, creates %s"
                      % (want_ns, [n["metadata"]["name"] for n in namespaces]))
        for d in docs:
            if d.get("kind") in CLUSTER_SCOPED:
                continue
            ns = (d.get("metadata") or {}).get("namespace")
            if ns != want_ns:
                self.fail(where, "%s is in namespace %r, not %s" % (name_of(d), ns, want_ns))

        configmaps = {d["metadata"]["name"]: d for d in docs if d.get("kind") == "ConfigMap"}
        secrets = {d["metadata"]["name"]: set((d.get("data") or {}).keys())
                   | set((d.get("stringData") or {}).keys())
                   for d in docs if d.get("kind") == "Secret"}
        for d in docs:
            if d.get("kind") == "Certificate":
                secrets.setdefault(d["spec"].get("secretName"), set()).update(CERTIFICATE_KEYS)
        deployments = [d for d in docs if d.get("kind") == "Deployment"]
        if not deployments:
            self.fail(where, "renders no Deployment")
        for dep in deployments:
            self.check_deployment(where, overlay, is_gateway, dep, configmaps, secrets)
        self.check_services(where, docs, deployments)
        self.check_certificates(where, want_ns, docs, cluster_issuers)
        cells = {d["metadata"].get("labels", {}).get("tahe.fi/cell") for d in deployments}
        return want_ns, cells

    def check_deployment(self, where, overlay, is_gateway, dep, configmaps, secrets):
        where = "%s %s" % (where, name_of(dep))
        service = dep["metadata"]["name"]
        spec = dep.get("spec") or {}
        template = spec.get("template") or {}
        labels = (template.get("metadata") or {}).get("labels") or {}
        want_labels = {"app.kubernetes.io/name": service, "app.kubernetes.io/part-of": "tahe"}
        if not is_gateway:
            want_labels["tahe.fi/cell"] = overlay
        for key, value in want_labels.items():
            if labels.get(key) != value:
                self.fail(where, "pod label %s is %r, want %r" % (key, labels.get(key), value))
        selector = ((spec.get("selector") or {}).get("matchLabels")) or {}
        if not selector or any(labels.get(k) != v for k, v in selector.items()):
            self.fail(where, "selector %s does not match the pod labels" % selector)
        pod = template.get("spec") or {}
        pod_sc = pod.get("securityContext") or {}
        if pod.get("automountServiceAccountToken") is not False:
            self.fail(where, "automountServiceAccountToken must be false")
        volumes = {v.get("name"): v for v in pod.get("volumes") or []}
        for volume in volumes.values():
            self.check_volume_refs(where, volume, configmaps, secrets)
        containers = (pod.get("containers") or []) + (pod.get("initContainers") or [])
        if service in tahe_config.SERVICES:
            _, known_env = tahe_config.service_config(service)
        else:
            self.fail(where, "%s is not a Tahe service (%s)" % (service, tahe_config.SERVICES))
            known_env = {}
        if not pod.get("containers"):
            self.fail(where, "has no containers")
        for c in containers:
            self.check_container(where, c, pod_sc, volumes, configmaps, secrets, known_env)

    def check_container(self, where, c, pod_sc, volumes, configmaps, secrets, known_env):
        where = "%s container %s" % (where, c.get("name"))
        image = c.get("image") or ""
        if not image or ":" not in image.rsplit("/", 1)[-1] or image.endswith(":latest"):
            self.fail(where, "image %r must name a tag (not latest)" % image)
        ports = {p.get("name"): p.get("containerPort") for p in c.get("ports") or []}
        for name, number in PORTS.items():
            if ports.get(name) != number:
                self.fail(where, "container port %s must be %d, is %r" % (name, number,
                                                                         ports.get(name)))
        for probe_name in ("readinessProbe", "livenessProbe"):
            probe = c.get(probe_name) or {}
            grpc = probe.get("grpc")
            if not isinstance(grpc, dict):
                self.fail(where, "%s must be a native grpc probe" % probe_name)
            elif grpc.get("port") != ports.get("health") or grpc.get("port") is None:
                self.fail(where, "%s must probe the health port %r, probes %r"
                          % (probe_name, ports.get("health"), grpc.get("port")))
        resources = c.get("resources") or {}
        for kind in ("requests", "limits"):
            for res in ("cpu", "memory"):
                if not (resources.get(kind) or {}).get(res):
                    self.fail(where, "resources.%s.%s missing" % (kind, res))
        sc = c.get("securityContext") or {}

        def effective(key):
            return sc.get(key, pod_sc.get(key))

        if effective("runAsNonRoot") is not True:
            self.fail(where, "runAsNonRoot must be true")
        uid = effective("runAsUser")
        if not isinstance(uid, int) or uid == 0:
            self.fail(where, "runAsUser must be a non-zero uid, is %r" % uid)
        if sc.get("readOnlyRootFilesystem") is not True:
            self.fail(where, "readOnlyRootFilesystem must be true")
        if sc.get("allowPrivilegeEscalation") is not False:
            self.fail(where, "allowPrivilegeEscalation must be false")
        if sc.get("privileged"):
            self.fail(where, "must not be privileged")
        if "ALL" not in ((sc.get("capabilities") or {}).get("drop") or []):
            self.fail(where, "capabilities must drop ALL")
        if (sc.get("capabilities") or {}).get("add"):
            self.fail(where, "must not add capabilities")
        seccomp = effective("seccompProfile") or {}
        if seccomp.get("type") != "RuntimeDefault":
            self.fail(where, "seccompProfile must be RuntimeDefault")

        # The environment, in Kubernetes' order: envFrom first, then env.
        env = {}
        for source in c.get("envFrom") or []:
            if "configMapRef" in source:
                ref = source["configMapRef"].get("name")
                if ref not in configmaps:
                    self.fail(where, "envFrom ConfigMap %s does not exist" % ref)
                else:
                    env.update((configmaps[ref].get("data") or {}))
            elif "secretRef" in source:
                ref = source["secretRef"].get("name")
                if ref not in secrets and ref not in OPERATOR_SECRETS:
                    self.fail(where, "envFrom Secret %s does not exist" % ref)
            else:
                self.fail(where, "envFrom entry %s is neither configMapRef nor secretRef" % source)
        for var in c.get("env") or []:
            name = var.get("name")
            value_from = var.get("valueFrom") or {}
            if "value" in var:
                value = str(var["value"])
                for ref in re.findall(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", value):
                    if ref not in env:
                        self.fail(where, "env %s uses $(%s), which is not defined before it"
                                  % (name, ref))
                env[name] = value
            elif "secretKeyRef" in value_from:
                ref = value_from["secretKeyRef"]
                self.check_secret_key(where, "env %s" % name, ref.get("name"), ref.get("key"),
                                      secrets)
                env[name] = "<secret>"
            elif "configMapKeyRef" in value_from:
                ref = value_from["configMapKeyRef"]
                cm = configmaps.get(ref.get("name"))
                if cm is None:
                    self.fail(where, "env %s: ConfigMap %s does not exist" % (name, ref.get("name")))
                elif ref.get("key") not in (cm.get("data") or {}):
                    self.fail(where, "env %s: ConfigMap %s has no key %s"
                              % (name, ref.get("name"), ref.get("key")))
                env[name] = "<configmap>"
            else:
                env[name] = "<field>"
        for name in env:
            if name.startswith("TAHE_") and name not in known_env:
                self.fail(where, "sets %s, which the service does not read "
                          "(services/<service>/main.cc, libs/server)" % name)

        mounts = {}
        for m in c.get("volumeMounts") or []:
            if m.get("name") not in volumes:
                self.fail(where, "volumeMount %s has no volume" % m.get("name"))
                continue
            mounts[m.get("mountPath", "").rstrip("/")] = volumes[m["name"]]
            if m.get("mountPath") != "/tmp" and m.get("readOnly") is not True:
                self.fail(where, "volumeMount %s must be readOnly" % m.get("name"))
        for name, value in env.items():
            if name.startswith("TAHE_") and name.endswith("_FILE"):
                self.check_file_in_mount(where, name, value, mounts, secrets)

    def check_secret_key(self, where, what, name, key, secrets):
        if name in secrets:
            keys = secrets[name]
        elif name in OPERATOR_SECRETS:
            keys = OPERATOR_SECRETS[name]
        else:
            self.fail(where, "%s: Secret %s is neither rendered nor operator-provided" % (what, name))
            return
        if key is not None and key not in keys:
            self.fail(where, "%s: Secret %s has no key %s (has %s)" % (what, name, key,
                                                                      sorted(keys)))

    def check_volume_refs(self, where, volume, configmaps, secrets):
        what = "volume %s" % volume.get("name")
        if "secret" in volume:
            s = volume["secret"]
            for item in s.get("items") or [None]:
                self.check_secret_key(where, what, s.get("secretName"),
                                      item and item.get("key"), secrets)
        elif "configMap" in volume:
            cm = configmaps.get(volume["configMap"].get("name"))
            if cm is None:
                self.fail(where, "%s: ConfigMap %s does not exist"
                          % (what, volume["configMap"].get("name")))
        elif "emptyDir" in volume:
            pass
        else:
            self.fail(where, "%s: only secret, configMap and emptyDir volumes are expected" % what)

    def check_file_in_mount(self, where, var, path, mounts, secrets):
        for mount_path, volume in mounts.items():
            if path.startswith(mount_path + "/"):
                rel = path[len(mount_path) + 1:]
                s = volume.get("secret")
                if s is None:
                    return
                if s.get("items"):
                    files = {i.get("path") for i in s["items"]}
                else:
                    name = s.get("secretName")
                    files = secrets.get(name) or OPERATOR_SECRETS.get(name) or set()
                if rel not in files:
                    self.fail(where, "%s=%s: the volume %s has no file %s (has %s)"
                              % (var, path, volume.get("name"), rel, sorted(files)))
                return
        self.fail(where, "%s=%s is not in any mounted volume" % (var, path))

    def check_services(self, where, docs, deployments):
        for svc in (d for d in docs if d.get("kind") == "Service"):
            w = "%s %s" % (where, name_of(svc))
            selector = (svc.get("spec") or {}).get("selector") or {}
            matches = [dep for dep in deployments
                       if selector and all(((dep["spec"]["template"].get("metadata") or {})
                                            .get("labels") or {}).get(k) == v
                                           for k, v in selector.items())]
            if len(matches) != 1:
                self.fail(w, "must select the pods of exactly one Deployment, selects %d"
                          % len(matches))
                continue
            port_names = {p.get("name") for c in matches[0]["spec"]["template"]["spec"]["containers"]
                          for p in c.get("ports") or []}
            for port in svc["spec"].get("ports") or []:
                if port.get("targetPort") not in port_names:
                    self.fail(w, "targetPort %r is not a named container port of %s"
                              % (port.get("targetPort"), name_of(matches[0])))

    def check_certificates(self, where, namespace, docs, cluster_issuers):
        for cert in (d for d in docs if d.get("kind") == "Certificate"):
            w = "%s %s" % (where, name_of(cert))
            spec = cert.get("spec") or {}
            issuer = spec.get("issuerRef") or {}
            if issuer.get("kind") != "ClusterIssuer" or issuer.get("name") not in cluster_issuers:
                self.fail(w, "issuerRef %s is not a ClusterIssuer of deploy/k8s/cert-manager"
                          % issuer)
            suffix = ".%s.svc" % namespace
            if not any(n.endswith(suffix) for n in spec.get("dnsNames") or []):
                self.fail(w, "dnsNames %s lack a name in %s" % (spec.get("dnsNames"), suffix[1:]))
            if not spec.get("secretName"):
                self.fail(w, "has no secretName")

    # --- all overlays ------------------------------------------------------------------------

    def check_all(self, rendered, cluster_issuers):
        seen_ns, seen_cells = {}, {}
        if GATEWAY not in rendered:
            self.fail("overlays", "there is no gateway overlay")
        if len([o for o in rendered if o != GATEWAY]) < 1:
            self.fail("overlays", "there is no cell overlay")
        for overlay, docs in sorted(rendered.items()):
            ns, cells = self.check_overlay(overlay, docs, cluster_issuers)
            if ns in seen_ns:
                self.fail("overlays/%s" % overlay, "namespace %s already used by %s"
                          % (ns, seen_ns[ns]))
            seen_ns[ns] = overlay
            for cell in cells - {None}:
                if cell in seen_cells:
                    self.fail("overlays/%s" % overlay, "cell label %s already used by %s"
                              % (cell, seen_cells[cell]))
                seen_cells[cell] = overlay
        # The cells admit gRPC calls from the gateway's namespace by name.
        gateway_ns = "tahe-%s" % GATEWAY
        for overlay, docs in rendered.items():
            for pol in (d for d in docs if d.get("kind") == "NetworkPolicy"):
                text = yaml.safe_dump(pol)
                if overlay != GATEWAY and gateway_ns not in text:
                    self.fail("overlays/%s %s" % (overlay, name_of(pol)),
                              "does not admit the gateway namespace %s" % gateway_ns)


def check_kustomizations(k8s_dir, checker):
    """Every kustomization under K8S_DIR uses only kustomize v2.0.3 fields, whichever kubectl
    renders it here."""
    for dirpath, _, files in os.walk(k8s_dir):
        if "kustomization.yaml" not in files:
            continue
        path = os.path.join(dirpath, "kustomization.yaml")
        where = os.path.relpath(path, os.path.dirname(k8s_dir))
        with open(path, encoding="utf-8") as f:
            k = yaml.safe_load(f) or {}
        for field in sorted(set(k) - KUSTOMIZE_V2_FIELDS):
            checker.fail(where, "field %s is unknown to kustomize v2.0.3 (kubectl 1.20)" % field)
        for entry in k.get("resources") or []:
            if not os.path.isfile(os.path.join(dirpath, entry)):
                checker.fail(where, "resources entry %s is not a file (directories go in bases "
                             "for kustomize v2.0.3)" % entry)


def check_cloudnativepg_example(k8s_dir, checker):
    """The CloudNativePG example uses the Secrets and names the overlays expect."""
    path = os.path.join(k8s_dir, "postgres", "cloudnativepg.yaml")
    where = "postgres/cloudnativepg.yaml"
    with open(path, encoding="utf-8") as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    clusters = [d for d in docs if d.get("kind") == "Cluster"]
    if [c["metadata"]["name"] for c in clusters] != ["postgres"]:
        checker.fail(where, "must define one Cluster named postgres (Service postgres-rw, "
                     "Secret postgres-ca)")
    for c in clusters:
        spec = c.get("spec") or {}
        names = [((spec.get("bootstrap") or {}).get("initdb") or {}).get("secret", {}).get("name")]
        names += [(r.get("passwordSecret") or {}).get("name")
                  for r in (spec.get("managed") or {}).get("roles") or []]
        for name in names:
            if name not in OPERATOR_SECRETS:
                checker.fail(where, "Secret %s is not one the manifests use" % name)


def find_docs(docs, kind, name=None):
    return [d for d in docs if d.get("kind") == kind
            and (name is None or d["metadata"]["name"] == name)]


def self_test(rendered, cluster_issuers):
    """Each break must make the checker report a problem; the unbroken input must pass."""
    cell = sorted(o for o in rendered if o != GATEWAY)[0]

    def container(docs, service):
        return find_docs(docs, "Deployment", service)[0]["spec"]["template"]["spec"]["containers"][0]

    def pod(docs, service):
        return find_docs(docs, "Deployment", service)[0]["spec"]["template"]["spec"]

    breaks = {
        "readiness probe removed": lambda r: container(r[cell], "ledger").pop("readinessProbe"),
        "liveness probe on the grpc port": lambda r: container(r[cell], "payroll")[
            "livenessProbe"]["grpc"].update(port=50051),
        "readiness probe over HTTP": lambda r: container(r[GATEWAY], "gateway").update(
            readinessProbe={"httpGet": {"port": 50052, "path": "/"}}),
        "memory limit removed": lambda r: container(r[cell], "invoicing")["resources"][
            "limits"].pop("memory"),
        "cpu request removed": lambda r: container(r[cell], "ledger")["resources"][
            "requests"].pop("cpu"),
        "writable root filesystem": lambda r: container(r[cell], "reporting")[
            "securityContext"].update(readOnlyRootFilesystem=False),
        "privilege escalation": lambda r: container(r[GATEWAY], "gateway")[
            "securityContext"].pop("allowPrivilegeEscalation"),
        "capabilities kept": lambda r: container(r[cell], "ledger")["securityContext"].pop(
            "capabilities"),
        "runs as root": lambda r: (container(r[cell], "ledger")["securityContext"].update(
            runAsUser=0), pod(r[cell], "ledger")["securityContext"].update(runAsUser=0)),
        "runAsNonRoot off": lambda r: (container(r[cell], "payroll")["securityContext"].update(
            runAsNonRoot=False)),
        "unknown Secret": lambda r: pod(r[cell], "payroll")["volumes"][0]["secret"].update(
            secretName="no-such-secret"),
        "unknown Secret key": lambda r: container(r[cell], "ledger")["env"][0]["valueFrom"][
            "secretKeyRef"].update(key="no-such-key"),
        "unknown ConfigMap": lambda r: container(r[cell], "ledger")["envFrom"][0][
            "configMapRef"].update(name="no-such-config"),
        "image without tag": lambda r: container(r[cell], "reporting").update(
            image="tahe/reporting"),
        "no metrics port": lambda r: container(r[cell], "ledger")["ports"].pop(),
        "variable the service does not read": lambda r: container(r[cell], "ledger")[
            "env"].append({"name": "TAHE_LEDGER_NO_SUCH_SETTING", "value": "1"}),
        "file outside the mounts": lambda r: container(r[cell], "ledger")["env"].append(
            {"name": "TAHE_TLS_CERT_FILE", "value": "/etc/elsewhere/tls.crt"}),
        "Service selecting nothing": lambda r: find_docs(r[cell], "Service", "invoicing")[0][
            "spec"]["selector"].update({"app.kubernetes.io/name": "nothing"}),
        "namespace shared by two cells": lambda r: [d["metadata"].update(
            namespace="tahe-%s" % cell) for o in r if o not in (cell, GATEWAY) for d in r[o]
            if d.get("kind") not in CLUSTER_SCOPED],
        "cell label missing": lambda r: find_docs(r[cell], "Deployment", "ledger")[0]["spec"][
            "template"]["metadata"]["labels"].pop("tahe.fi/cell"),
        "certificate without its namespaced name": lambda r: find_docs(
            r[cell], "Certificate", "ledger")[0]["spec"].update(dnsNames=["ledger"]),
    }
    if len(rendered) < 3:
        del breaks["namespace shared by two cells"]
    failures = []
    baseline = Checker()
    baseline.check_all(rendered, cluster_issuers)
    if baseline.problems:
        failures.append("the unbroken manifests fail: %s" % baseline.problems)
    for what, apply in breaks.items():
        broken = copy.deepcopy(rendered)
        apply(broken)
        checker = Checker()
        checker.check_all(broken, cluster_issuers)
        if checker.problems:
            print("self-test: %-42s caught: %s" % (what, checker.problems[0]))
        else:
            failures.append("not caught: %s" % what)
    return failures


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kubectl", default=os.environ.get("KUBECTL", "kubectl"))
    parser.add_argument("--k8s-dir", default=os.path.join(tahe_config.repo_root(), "deploy", "k8s"))
    parser.add_argument("--self-test", action="store_true",
                        help="also prove that broken manifests fail the checks")
    args = parser.parse_args()
    kubectl = shutil.which(args.kubectl) or args.kubectl
    if not os.access(kubectl, os.X_OK):
        print("check_k8s: no kubectl (%s): install Debian's kubernetes-client "
              "(bash tests/deps.sh) or set KUBECTL" % args.kubectl, file=sys.stderr)
        return 1
    version = subprocess.run([kubectl, "version", "--client"], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, universal_newlines=True).stdout
    print("check_k8s: %s: %s" % (kubectl, " ".join(version.split())[:160]))

    checker = Checker()
    check_kustomizations(args.k8s_dir, checker)
    check_cloudnativepg_example(args.k8s_dir, checker)
    try:
        cm_docs = run_kustomize(kubectl, os.path.join(args.k8s_dir, "cert-manager"))
    except RuntimeError as e:
        print(e, file=sys.stderr)
        return 1
    cluster_issuers = {d["metadata"]["name"] for d in cm_docs if d.get("kind") == "ClusterIssuer"}
    overlays_dir = os.path.join(args.k8s_dir, "overlays")
    rendered = {}
    for overlay in sorted(os.listdir(overlays_dir)):
        path = os.path.join(overlays_dir, overlay)
        if not os.path.isfile(os.path.join(path, "kustomization.yaml")):
            continue
        try:
            rendered[overlay] = run_kustomize(kubectl, path)
        except RuntimeError as e:
            checker.fail("overlays/%s" % overlay, str(e))
            continue
        kinds = {}
        for d in rendered[overlay]:
            kinds[d.get("kind")] = kinds.get(d.get("kind"), 0) + 1
        print("check_k8s: overlays/%s renders %s" % (overlay, ", ".join(
            "%d %s" % (n, k) for k, n in sorted(kinds.items()))))
    checker.check_all(rendered, cluster_issuers)
    if checker.problems:
        for p in checker.problems:
            print("check_k8s: FAIL %s" % p, file=sys.stderr)
        return 1
    if args.self_test:
        failures = self_test(rendered, cluster_issuers)
        if failures:
            for f in failures:
                print("check_k8s: SELF-TEST FAIL %s" % f, file=sys.stderr)
            return 1
    print("check_k8s: OK (%d overlays)" % len(rendered))
    return 0


if __name__ == "__main__":
    sys.exit(main())
