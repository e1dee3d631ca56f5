"""What each Tahe binary accepts as configuration, read from the sources: the absl flags it
defines and the TAHE_* environment variables that are their fallbacks.

A service's flags are those of services/<service>/main.cc plus the shared ones every service
links (libs/server/*.cc, for example --tls_cert_file and --health_listen in tls.cc). Used by the
deployment checkers in this directory; Python 3 standard library only.
"""

import os
import re

SERVICES = ("ledger", "payroll", "invoicing", "reporting", "gateway")

# The TLS and health flags every binary gets (libs/server/tls.cc). Listed here as well, so that
# the checkers accept them even in a tree where a service does not define them yet.
SHARED_FLAGS = {
    "health_listen": "TAHE_HEALTH_LISTEN",
    "tls_cert_file": "TAHE_TLS_CERT_FILE",
    "tls_key_file": "TAHE_TLS_KEY_FILE",
    "tls_client_ca_file": "TAHE_TLS_CLIENT_CA_FILE",
    "upstream_tls_ca_file": "TAHE_UPSTREAM_TLS_CA_FILE",
    "upstream_tls_cert_file": "TAHE_UPSTREAM_TLS_CERT_FILE",
    "upstream_tls_key_file": "TAHE_UPSTREAM_TLS_KEY_FILE",
}

_FLAG_RE = re.compile(r"ABSL_FLAG\(\s*[^,]+?,\s*([a-z0-9_]+)\s*,", re.S)
_FALLBACK_RE = re.compile(r'\{\s*"([a-z0-9_]+)"\s*,\s*"(TAHE_[A-Z0-9_]+)"\s*\}')


def repo_root():
    return os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def _sources(root, service):
    paths = [os.path.join(root, "services", service, "main.cc")]
    shared = os.path.join(root, "libs", "server")
    if os.path.isdir(shared):
        for name in sorted(os.listdir(shared)):
            if name.endswith(".cc") and not name.endswith("_test.cc"):
                paths.append(os.path.join(shared, name))
    return paths


def service_config(service, root=None):
    """(flags, env) of SERVICE: the set of flag names and a dict env var -> flag name."""
    root = root or repo_root()
    flags, env = set(), {}
    main = os.path.join(root, "services", service, "main.cc")
    if not os.path.isfile(main):
        raise FileNotFoundError(main)
    for path in _sources(root, service):
        with open(path, encoding="utf-8") as f:
            text = f.read()
        flags.update(_FLAG_RE.findall(text))
        for flag, var in _FALLBACK_RE.findall(text):
            env[var] = flag
    for flag, var in SHARED_FLAGS.items():
        flags.add(flag)
        env.setdefault(var, flag)
    return flags, env
