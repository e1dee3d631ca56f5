#!/usr/bin/env python3
"""Checks deploy/docker/Dockerfile without a Docker engine.

    TAHE_BUILD_DIR=build python3 tests/deploy/check_docker_runtime_libs.py

1. Its shape: a build stage FROM debian:12 that installs every build package of tests/deps.sh
   (all but the test-only ones in TEST_ONLY below) and builds tahe_${SERVICE}; a runtime stage
   FROM debian:12-slim with a non-root USER and an ENTRYPOINT.
2. Its runtime packages: for every service binary in TAHE_BUILD_DIR, `ldd` lists the shared
   libraries it loads; `dpkg -S` names the Debian package of each; that package must be installed
   in the runtime stage: named by its apt-get install, pulled in by their dependencies (the
   Depends/Pre-Depends closure from this machine's dpkg database), or part of debian:12-slim
   (the closure of the Essential and Priority: required packages). Every package the runtime
   stage names must be needed by some service (ca-certificates excepted), so it stays slim.
Exit 0: good; 1: problems (listed); 77: no service binary built (nothing to compare with).
"""

import os
import re
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tahe_config  # noqa: E402

# Packages of tests/deps.sh that only the tests or the local suite need, not the image build.
TEST_ONLY = {"postgresql-15", "postgresql-client-15", "prometheus", "nginx", "curl",
             "libxml2-utils", "kubernetes-client", "python3-yaml", "openssl", "clang",
             "libclang-rt-14-dev"}
# Named in the runtime stage although no binary links it.
RUNTIME_EXTRAS = {"ca-certificates"}
SKIP = 77


def dockerfile_stages(text):
    """[(from_image, alias, [instructions])], each instruction (KEYWORD, rest) on one line."""
    text = re.sub(r"\\\n", " ", text)
    args, stages = {}, []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        rest = rest.strip()
        if keyword == "ARG" and not stages:
            name, _, default = rest.partition("=")
            args[name] = default
        if keyword == "FROM":
            image = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), ""), rest.split()[0])
            m = re.search(r"\bAS\s+(\S+)", rest, re.I)
            stages.append((image, m.group(1) if m else None, []))
        elif stages:
            stages[-1][2].append((keyword, rest))
    return stages


def apt_installs(instructions):
    packages = set()
    for keyword, rest in instructions:
        if keyword != "RUN":
            continue
        for m in re.finditer(r"apt-get\s+install\s+([^&;|]*)", rest):
            for token in m.group(1).split():
                if not token.startswith("-"):
                    packages.add(token)
    return packages


def deps_sh_packages(root):
    with open(os.path.join(root, "tests", "deps.sh"), encoding="utf-8") as f:
        text = f.read()
    m = re.search(r"^packages=\((.*?)^\)", text, re.S | re.M)
    words = []
    for line in m.group(1).splitlines():
        words += line.split("#", 1)[0].split()
    return set(words)


def installed_packages():
    """name -> (depends: [[alternatives]], base: bool, provides: [names])."""
    out = subprocess.run(
        ["dpkg-query", "-W", "-f=${db:Status-Status}\t${Package}\t${Depends}\t${Pre-Depends}\t"
         "${Priority}\t${Essential}\t${Provides}\n"],
        stdout=subprocess.PIPE, universal_newlines=True, check=True).stdout
    packages = {}
    for line in out.splitlines():
        status, name, depends, predepends, priority, essential, provides = line.split("\t")
        if status != "installed":
            continue
        groups = []
        for field in (depends, predepends):
            for group in filter(None, (g.strip() for g in field.split(","))):
                groups.append([re.split(r"[\s(:]", alt.strip(), 1)[0]
                               for alt in group.split("|")])
        packages[name] = (groups, priority == "required" or essential == "yes",
                          [re.split(r"[\s(]", p.strip(), 1)[0]
                           for p in provides.split(",") if p.strip()])
    return packages


def closure(roots, packages):
    providers = {}
    for name, (_, _, provides) in packages.items():
        for p in provides:
            providers.setdefault(p, []).append(name)
    seen, todo = set(), list(roots)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for group in packages.get(name, ([], False, []))[0]:
            for alt in group:
                candidates = [alt] if alt in packages else providers.get(alt, [])
                if candidates:
                    todo.append(candidates[0])
                    break
    return seen


def owning_packages(paths):
    """path -> Debian package owning it (None if none), with one dpkg -S call per round: dpkg
    reads its whole file database on every call. /lib and /usr/lib (merged /usr) are both
    tried, and the path with symlinks resolved."""
    candidates = {}
    for path in paths:
        c = [path, os.path.realpath(path)]
        for p in list(c):
            if p.startswith("/usr/lib/"):
                c.append(p[len("/usr"):])
            elif p.startswith("/lib/"):
                c.append("/usr" + p)
        candidates[path] = list(dict.fromkeys(c))
    owners = {}
    queries = sorted({p for c in candidates.values() for p in c})
    if queries:
        proc = subprocess.run(["dpkg", "-S"] + queries, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, universal_newlines=True)
        for line in proc.stdout.splitlines():
            if line.startswith("diversion "):
                continue
            package, sep, path = line.rpartition(": ")
            if sep and path in queries:
                owners[path] = package.split(",")[0].split(":")[0].strip()
    return {path: next((owners[p] for p in c if p in owners), None)
            for path, c in candidates.items()}


def ldd_libraries(binary):
    proc = subprocess.run(["ldd", binary], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True)
    libs, missing = [], []
    for line in proc.stdout.splitlines():
        line = line.strip()
        if "not found" in line:
            missing.append(line.split()[0])
        m = re.match(r"\S+ => (/\S+)", line) or re.match(r"(/\S+) \(0x", line)
        if m:
            libs.append(m.group(1))
    if proc.returncode != 0:
        missing.append("ldd failed: %s" % proc.stdout.strip())
    return libs, missing


def main():
    root = tahe_config.repo_root()
    problems = []
    with open(os.path.join(root, "deploy", "docker", "Dockerfile"), encoding="utf-8") as f:
        stages = dockerfile_stages(f.read())
    if len(stages) != 2:
        print("check_docker: FAIL want two stages (build, runtime), found %d" % len(stages),
              file=sys.stderr)
        return 1
    (build_from, _, build), (run_from, _, runtime) = stages
    if build_from != "debian:12":
        problems.append("the build stage is FROM %s, want debian:12" % build_from)
    if run_from != "debian:12-slim":
        problems.append("the runtime stage is FROM %s, want debian:12-slim" % run_from)
    missing_build = deps_sh_packages(root) - TEST_ONLY - apt_installs(build)
    if missing_build:
        problems.append("the build stage lacks these build packages of tests/deps.sh: %s"
                        % " ".join(sorted(missing_build)))
    if not any(k == "RUN" and "tahe_${SERVICE}" in r and "--target" in r for k, r in build):
        problems.append("the build stage does not build the one target tahe_${SERVICE}")
    for stage, instructions in (("build", build), ("runtime", runtime)):
        if not any(k == "ARG" and r.split("=")[0] == "SERVICE" for k, r in instructions):
            problems.append("the %s stage does not declare ARG SERVICE" % stage)
    users = [r for k, r in runtime if k == "USER"]
    if not users or users[-1].split(":")[0] in ("", "0", "root"):
        problems.append("the runtime stage must end with a non-root USER, has %s" % users)
    if not any(k == "ENTRYPOINT" for k, _ in runtime):
        problems.append("the runtime stage has no ENTRYPOINT")
    runtime_packages = apt_installs(runtime)
    if not runtime_packages:
        problems.append("the runtime stage installs no package")

    build_dir = os.environ.get("TAHE_BUILD_DIR", os.path.join(root, "build"))
    packages = installed_packages()
    base = closure([n for n, (_, is_base, _) in packages.items() if is_base], packages)
    unknown = [p for p in runtime_packages if p not in packages]
    if unknown:
        problems.append("runtime packages not installed on this machine, so not checkable: %s"
                        % " ".join(sorted(unknown)))
    covered = closure(runtime_packages, packages) | base
    needed_by_any = set()
    checked = 0
    for service in tahe_config.SERVICES:
        binary = os.path.join(build_dir, "services", service, "tahe_%s" % service)
        if not os.access(binary, os.X_OK):
            print("check_docker: %s is not built; not checked" % binary)
            continue
        checked += 1
        libs, missing = ldd_libraries(binary)
        for m in missing:
            problems.append("%s: library not found: %s" % (service, m))
        needed = {}
        owners = owning_packages(libs)
        for lib in libs:
            owner = owners[lib]
            if owner is None:
                problems.append("%s: no Debian package owns %s" % (service, lib))
            else:
                needed.setdefault(owner, lib)
        direct = {p for p in needed if p not in base}
        needed_by_any |= closure(direct, packages)
        for package, lib in sorted(needed.items()):
            if package not in covered:
                problems.append("%s needs %s (%s), which the runtime stage does not install"
                                % (service, package, lib))
        print("check_docker: tahe_%s loads %d libraries from %d packages: %s"
              % (service, len(libs), len(needed), " ".join(sorted(direct))))
    if checked == 0:
        print("check_docker: no service binary under %s (set TAHE_BUILD_DIR); skipped"
              % build_dir)
        return SKIP
    if checked == len(tahe_config.SERVICES):
        for package in sorted(runtime_packages - RUNTIME_EXTRAS - needed_by_any):
            problems.append("the runtime stage installs %s, which no service needs" % package)
    for p in problems:
        print("check_docker: FAIL %s" % p, file=sys.stderr)
    if problems:
        return 1
    print("check_docker: OK (%d binaries; runtime packages: %s)"
          % (checked, " ".join(sorted(runtime_packages))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
