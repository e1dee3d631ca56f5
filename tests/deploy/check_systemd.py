#!/usr/bin/env python3
"""Checks the systemd units of deploy/systemd and their example environment files.

    python3 tests/deploy/check_systemd.py            # TAHE_BUILD_DIR: where the binaries are

For every tahe-<service>@.service (and tahe-gateway.service): the hardening settings
(REQUIRED_SETTINGS below), secrets as credentials (LoadCredential, and every %d/<name> used is
one of them), Restart=on-failure, TimeoutStopSec above the service's shutdown grace, an
EnvironmentFile; every --flag on ExecStart is an absl flag of the service and every TAHE_*
variable (in the unit and in deploy/systemd/examples/*/<service>.env) is one of its environment
fallbacks (services/<service>/main.cc and libs/server, see tahe_config.py); the database
connection strings use sslmode=verify-full. tahe-cell@.target wants every cell service, and
every cell service is part of it. Then, when systemd-analyze is usable, `systemd-analyze verify`
on instances of the units (ExecStart pointed at the built binary, or /bin/true), where any
message is a failure. Finally breaks the units in memory in a few ways and fails unless each
break is caught. Exit 0: all good; 1: problems (listed).
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tahe_config  # noqa: E402

CELL_SERVICES = ("ledger", "payroll", "invoicing", "reporting")
# setting -> allowed values (None: any non-empty value; "" must be present and empty).
REQUIRED_SETTINGS = {
    "NoNewPrivileges": {"yes"},
    "ProtectSystem": {"strict"},
    "ProtectHome": {"yes", "read-only", "tmpfs"},
    "PrivateTmp": {"yes"},
    "PrivateDevices": {"yes"},
    "ProtectKernelTunables": {"yes"},
    "ProtectKernelModules": {"yes"},
    "ProtectKernelLogs": {"yes"},
    "ProtectControlGroups": {"yes"},
    "RestrictAddressFamilies": {"AF_INET AF_INET6 AF_UNIX"},
    "CapabilityBoundingSet": {""},
    "RestrictNamespaces": {"yes"},
    "RestrictSUIDSGID": {"yes"},
    "LockPersonality": {"yes"},
    "SystemCallArchitectures": {"native"},
    "Restart": {"on-failure"},
    "Type": {"exec", "simple", "notify"},
}
# Variables that are not TAHE_* settings but that the processes read (libpq's password file).
OTHER_ENV = {"PGPASSFILE"}
DEFAULT_GRACE_SECONDS = 20


def parse_unit(text):
    """[(section, key, value)] of a unit file (no line continuations are used here)."""
    entries, section = [], None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        key, sep, value = line.partition("=")
        if not sep:
            entries.append((section, "<bad line>", line))
            continue
        entries.append((section, key.strip(), value.strip()))
    return entries


def parse_env_file(text):
    env = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition("=")
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        env[key.strip()] = value
    return env


def environment_assignments(value):
    """Environment=A=1 "B=2 3" -> {A: 1, B: 2 3}."""
    out = {}
    for m in re.finditer(r'"([^"]*)"|(\S+)', value):
        item = m.group(1) if m.group(1) is not None else m.group(2)
        k, _, v = item.partition("=")
        out[k] = v
    return out


def seconds(value):
    m = re.fullmatch(r"(\d+)\s*(s|sec|min|m)?", value)
    if not m:
        return None
    return int(m.group(1)) * (60 if m.group(2) in ("min", "m") else 1)


class Checker:
    def __init__(self):
        self.problems = []

    def fail(self, where, message):
        self.problems.append("%s: %s" % (where, message))

    def check_service_unit(self, unit_name, service, text, env_files):
        where = unit_name
        flags, known_env = tahe_config.service_config(service)
        entries = parse_unit(text)
        settings = {}
        for section, key, value in entries:
            if key == "<bad line>":
                self.fail(where, "unparsable line %r" % value)
            settings.setdefault(key, []).append((section, value))
        for key, allowed in REQUIRED_SETTINGS.items():
            values = [v for s, v in settings.get(key, []) if s == "Service"]
            if not values:
                self.fail(where, "[Service] lacks %s=" % key)
            elif values[-1] not in allowed:
                self.fail(where, "%s=%s, want %s" % (key, values[-1], " or ".join(
                    repr(a) for a in sorted(allowed))))
        filters = [v for s, v in settings.get("SystemCallFilter", []) if s == "Service"]
        if "@system-service" not in filters:
            self.fail(where, "SystemCallFilter=@system-service missing")
        dynamic = [v for s, v in settings.get("DynamicUser", [])]
        users = [v for s, v in settings.get("User", [])]
        if dynamic[-1:] != ["yes"] and (not users or users[-1] in ("root", "0")):
            self.fail(where, "needs DynamicUser=yes or a dedicated User=")
        credentials = {}
        for _, value in settings.get("LoadCredential", []):
            name, _, path = value.partition(":")
            credentials[name] = path
        if not credentials:
            self.fail(where, "passes no secrets with LoadCredential=")
        if not settings.get("EnvironmentFile"):
            self.fail(where, "has no EnvironmentFile=")
        for _, value in settings.get("ExecStart", []):
            argv = value.lstrip("-@:+!").split()
            if not argv or os.path.basename(argv[0]) != "tahe_%s" % service:
                self.fail(where, "ExecStart=%s does not run tahe_%s" % (value, service))
            for arg in argv[1:]:
                flag = arg.lstrip("-").split("=", 1)[0]
                if flag not in flags:
                    self.fail(where, "ExecStart passes --%s, which tahe_%s does not define"
                              % (flag, service))
        if not settings.get("ExecStart"):
            self.fail(where, "has no ExecStart=")

        env = {}
        for _, value in settings.get("Environment", []):
            env.update(environment_assignments(value))
        for name, value in env.items():
            for cred in re.findall(r"%d/([A-Za-z0-9_.-]+)", value):
                if cred not in credentials:
                    self.fail(where, "%s=%s uses the credential %s, which no LoadCredential= "
                              "defines" % (name, value, cred))
        for source, variables in [(where, env)] + list(env_files.items()):
            for name, value in variables.items():
                if name.startswith("TAHE_"):
                    if name not in known_env:
                        self.fail(source, "%s is not a setting of tahe_%s" % (name, service))
                elif name not in OTHER_ENV:
                    self.fail(source, "%s is neither a TAHE_* setting nor one of %s"
                              % (name, sorted(OTHER_ENV)))
                if re.fullmatch(r"TAHE_[A-Z]+_DB(_MIGRATE)?_URL", name) and \
                        "sslmode=verify-full" not in value:
                    self.fail(source, "%s lacks sslmode=verify-full" % name)
                if "password=" in value:
                    self.fail(source, "%s holds a password: use the pgpass credential" % name)

        grace = DEFAULT_GRACE_SECONDS
        for variables in env_files.values():
            if "TAHE_SHUTDOWN_GRACE_SECONDS" in variables:
                grace = max(grace, int(variables["TAHE_SHUTDOWN_GRACE_SECONDS"]))
        stop = [v for s, v in settings.get("TimeoutStopSec", [])]
        if not stop or seconds(stop[-1]) is None or seconds(stop[-1]) <= grace:
            self.fail(where, "TimeoutStopSec=%s must exceed the shutdown grace (%d s)"
                      % (stop[-1] if stop else "", grace))
        if service in CELL_SERVICES:
            for key in ("PartOf", "WantedBy"):
                if "tahe-cell@%i.target" not in " ".join(v for _, v in settings.get(key, [])):
                    self.fail(where, "%s= must name tahe-cell@%%i.target" % key)

    def check_target(self, name, text):
        wants = " ".join(v for s, k, v in parse_unit(text) if k == "Wants").split()
        for service in CELL_SERVICES:
            if "tahe-%s@%%i.service" % service not in wants:
                self.fail(name, "Wants= lacks tahe-%s@%%i.service" % service)

    def check_all(self, units, envs):
        """units: file name -> text; envs: service -> {env file: variables}."""
        expected = ["tahe-%s@.service" % s for s in CELL_SERVICES] + [
            "tahe-gateway.service", "tahe-cell@.target"]
        for name in expected:
            if name not in units:
                self.fail("deploy/systemd", "%s is missing" % name)
        for name, text in sorted(units.items()):
            m = re.fullmatch(r"tahe-([a-z]+)@?\.service", name)
            if m:
                service = m.group(1)
                if service not in tahe_config.SERVICES:
                    self.fail(name, "%s is not a Tahe service" % service)
                    continue
                if not envs.get(service):
                    self.fail(name, "has no example environment file under examples/")
                self.check_service_unit(name, service, text, envs.get(service, {}))
            elif name == "tahe-cell@.target":
                self.check_target(name, text)


def load(systemd_dir):
    units, envs = {}, {}
    for name in sorted(os.listdir(systemd_dir)):
        if name.endswith((".service", ".target")):
            with open(os.path.join(systemd_dir, name), encoding="utf-8") as f:
                units[name] = f.read()
    examples = os.path.join(systemd_dir, "examples")
    for cell in sorted(os.listdir(examples)):
        for name in sorted(os.listdir(os.path.join(examples, cell))):
            if name.endswith(".env"):
                path = os.path.join(examples, cell, name)
                with open(path, encoding="utf-8") as f:
                    envs.setdefault(name[:-4], {})["examples/%s/%s" % (cell, name)] = \
                        parse_env_file(f.read())
    return units, envs


def systemd_verify(units, build_dir):
    """Messages of systemd-analyze verify, or None when it cannot run here."""
    tool = shutil.which("systemd-analyze")
    if tool is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        args = []
        for name, text in units.items():
            def exec_start(m):
                binary = os.path.join(build_dir or "", "services", m.group(2), m.group(1))
                return "ExecStart=" + (binary if build_dir and os.access(binary, os.X_OK)
                                       else "/bin/true")
            text = re.sub(r"^ExecStart=\S*/(tahe_([a-z]+))", exec_start, text, flags=re.M)
            with open(os.path.join(tmp, name), "w", encoding="utf-8") as f:
                f.write(text)
            instance = name.replace("@.", "@testcell.")
            if instance != name:
                os.symlink(name, os.path.join(tmp, instance))
            args.append(os.path.join(tmp, instance))
        proc = subprocess.run([tool, "verify", "--man=no"] + args, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, universal_newlines=True, cwd=tmp)
        lines = [line for line in proc.stdout.splitlines() if line.strip()]
        # Outside a systemd host (a container) it may be unable to start its manager at all.
        if proc.returncode != 0 and any("Failed to initialize manager" in l or
                                        "Failed to allocate manager" in l for l in lines):
            return None
        if proc.returncode != 0 and not lines:
            lines = ["systemd-analyze verify exited %d" % proc.returncode]
        return lines


def self_test(units, envs):
    def edit(unit, old, new):
        def apply(u, e):
            assert old in u[unit], (unit, old)
            u[unit] = u[unit].replace(old, new, 1)
        return apply

    def env_add(service, name, value):
        def apply(u, e):
            first = sorted(e[service])[0]
            e[service][first][name] = value
        return apply

    breaks = {
        "NoNewPrivileges removed": edit("tahe-ledger@.service", "NoNewPrivileges=yes", ""),
        "ProtectSystem full": edit("tahe-gateway.service", "ProtectSystem=strict",
                                   "ProtectSystem=full"),
        "capabilities kept": edit("tahe-payroll@.service", "CapabilityBoundingSet=\n", "\n"),
        "unknown TAHE variable in an env file": env_add("reporting", "TAHE_REPORTING_NOPE", "1"),
        "unknown flag on ExecStart": edit("tahe-invoicing@.service",
                                          "ExecStart=/usr/local/bin/tahe_invoicing",
                                          "ExecStart=/usr/local/bin/tahe_invoicing --no_such=1"),
        "credential not loaded": edit("tahe-ledger@.service",
                                      "LoadCredential=internal-token:", "LoadCredential=token:"),
        "stop timeout below the grace": edit("tahe-ledger@.service", "TimeoutStopSec=35",
                                             "TimeoutStopSec=10"),
        "database without verify-full": env_add("payroll", "TAHE_PAYROLL_DB_URL",
                                                "host=db sslmode=require"),
        "target without reporting": edit("tahe-cell@.target", "tahe-reporting@%i.service", ""),
    }
    import copy
    failures = []
    for what, apply in breaks.items():
        u, e = dict(units), copy.deepcopy(envs)
        apply(u, e)
        checker = Checker()
        checker.check_all(u, e)
        if checker.problems:
            print("self-test: %-38s caught: %s" % (what, checker.problems[0]))
        else:
            failures.append("not caught: %s" % what)
    return failures


def main():
    systemd_dir = os.path.join(tahe_config.repo_root(), "deploy", "systemd")
    units, envs = load(systemd_dir)
    checker = Checker()
    checker.check_all(units, envs)
    build_dir = os.environ.get("TAHE_BUILD_DIR")
    messages = systemd_verify(units, build_dir)
    if messages is None:
        print("check_systemd: systemd-analyze is not usable here; only the static checks ran")
    else:
        for line in messages:
            checker.fail("systemd-analyze verify", line)
        if not messages:
            print("check_systemd: systemd-analyze verify: no complaints (%d units)" % len(units))
    failures = self_test(units, envs)
    for p in checker.problems:
        print("check_systemd: FAIL %s" % p, file=sys.stderr)
    for f in failures:
        print("check_systemd: SELF-TEST FAIL %s" % f, file=sys.stderr)
    if checker.problems or failures:
        return 1
    print("check_systemd: OK (%d units, %d example env files)"
          % (len(units), sum(len(v) for v in envs.values())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
