#!/usr/bin/env python3
"""Checks the Tahe monitoring configuration: the Grafana dashboards and the Prometheus rules.

  python3 tests/monitoring/check_monitoring.py [--root DIR] [--promtool PATH]
      [--dashboards DIR] [--rules DIR] [--tests DIR] [--metric-names FILE]

Dashboards (deploy/grafana/dashboards/*.json):
  - valid JSON, a unique uid and title, the ${DS_PROMETHEUS} input and datasource variable, every
    panel (rows' panels included) with a unique id and Prometheus targets that all have an expr;
  - every $variable an expr uses is defined (or is one of Grafana's own);
  - every expr, with the variables substituted ($__rate_interval -> 1m, $cell -> x, ...), and every
    label_values() selector is valid PromQL: they are written as recording rules into a temporary
    rules file that `promtool check rules` must accept.
Rules (deploy/prometheus/rules/*.yml):
  - every alert has a severity label (warning or critical), summary, description and runbook_url
    annotations; the runbook_url is deploy/prometheus/README.md#<anchor> and the README has a
    heading with that anchor;
  - every alert has a unit test (deploy/prometheus/tests/*.yml) where it fires and one where it
    does not.
Both:
  - every metric name an expr uses (dashboards and rules) is a family of
    tests/monitoring/metric_names.txt (histograms as _bucket/_sum/_count), a recording rule, or a
    series Prometheus makes itself (up, scrape_*); a lazy family's name must appear in the C++
    sources (services/, libs/).

Exit status 0 when everything holds; otherwise every problem is printed and the status is 1.
Python 3 standard library only; the YAML of the rule files is read by the small reader below,
which knows the block style those files use (and says so when it meets anything else).
"""
import argparse
import glob
import json
import os
import re
import subprocess
import sys
import tempfile

# --------------------------------------------------------------------------------------------
# A reader for the YAML subset of Prometheus rule and test files: block mappings and sequences,
# plain, single- and double-quoted scalars, literal and folded block scalars (| > with - or +),
# flow sequences and mappings of scalars, comments. No anchors, tags or multi-document files.


class YamlError(Exception):
    pass


def _strip_comment(text):
    out, quote, i = [], None, 0
    while i < len(text):
        c = text[i]
        if quote:
            out.append(c)
            if quote == '"' and c == "\\" and i + 1 < len(text):
                out.append(text[i + 1])
                i += 1
            elif c == quote:
                quote = None
        elif c in "'\"" and (i == 0 or text[i - 1] in " \t[{,:-"):
            quote = c
            out.append(c)
        elif c == "#" and (i == 0 or text[i - 1] in " \t"):
            break
        else:
            out.append(c)
        i += 1
    return "".join(out).rstrip()


def _scalar(text, where):
    text = text.strip()
    if text == "":
        return None
    if text[0] == '"':
        if not text.endswith('"') or len(text) < 2:
            raise YamlError(f"{where}: unterminated double-quoted string")
        try:
            return json.loads(text)
        except json.JSONDecodeError as e:
            raise YamlError(f"{where}: bad double-quoted string: {e}") from e
    if text[0] == "'":
        if not text.endswith("'") or len(text) < 2:
            raise YamlError(f"{where}: unterminated single-quoted string")
        return text[1:-1].replace("''", "'")
    if text[0] in "[{":
        return _flow(text, where)
    if text[0] in "&*!|>%@`":
        raise YamlError(f"{where}: unsupported YAML here: {text[:20]}")
    return text


def _split_flow(body, where):
    parts, depth, quote, cur = [], 0, None, []
    for c in body:
        if quote:
            cur.append(c)
            if c == quote:
                quote = None
        elif c in "'\"":
            quote = c
            cur.append(c)
        elif c in "[{":
            depth += 1
            cur.append(c)
        elif c in "]}":
            depth -= 1
            cur.append(c)
        elif c == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(c)
    if quote or depth:
        raise YamlError(f"{where}: unbalanced flow collection")
    if "".join(cur).strip():
        parts.append("".join(cur))
    return [p.strip() for p in parts]


def _flow(text, where):
    if text[0] == "[":
        if not text.endswith("]"):
            raise YamlError(f"{where}: unterminated flow sequence")
        return [_scalar(p, where) for p in _split_flow(text[1:-1], where)]
    if not text.endswith("}"):
        raise YamlError(f"{where}: unterminated flow mapping")
    result = {}
    for part in _split_flow(text[1:-1], where):
        m = re.match(r'^("[^"]*"|[^:]+?)\s*:\s+(.*)$', part) or re.match(r'^("[^"]*"|[^:]+?)\s*:$', part)
        if not m:
            raise YamlError(f"{where}: bad flow mapping entry {part!r}")
        key = _scalar(m.group(1), where)
        result[key] = _scalar(m.group(2), where) if m.lastindex > 1 else None
    return result


_KEY = re.compile(r'^("(?:[^"\\]|\\.)*"|\'[^\']*\'|[^\s\'"#:\[\]{},&*!|>%@`-][^:#]*?|-[^\s:#][^:#]*?)\s*:(?:\s+(.*)|)$')


def load_yaml(path):
    with open(path, encoding="utf-8") as f:
        raw = f.read().split("\n")
    lines = []  # (number, indent, text) without comments and blank lines; raw kept for blocks
    for number, line in enumerate(raw, 1):
        if "\t" in line[: len(line) - len(line.lstrip())]:
            raise YamlError(f"{path}:{number}: tab in indentation")
        text = _strip_comment(line)
        if text.strip() in ("", "---"):
            continue
        lines.append((number, len(text) - len(text.lstrip()), text.strip()))
    pos = [0]

    def block_scalar(indicator, parent_indent, after_number, where):
        style, chomp = indicator[0], indicator[1:]
        if chomp not in ("", "-", "+"):
            raise YamlError(f"{where}: unsupported block scalar header {indicator}")
        body, indent = [], None
        n = after_number  # raw index of the first line after the header (0-based == number)
        while n < len(raw):
            line = raw[n]
            if line.strip() == "":
                body.append("")
                n += 1
                continue
            this = len(line) - len(line.lstrip())
            if indent is None:
                indent = this
            if this < indent or this <= parent_indent:
                break
            body.append(line[indent:])
            n += 1
        while pos[0] < len(lines) and lines[pos[0]][0] <= n:
            pos[0] += 1
        while body and body[-1] == "":
            body.pop()
        if style == "|":
            text = "\n".join(body)
        else:
            text = re.sub(r"(?<!\n)\n(?!\n)", " ", "\n".join(body)).replace("\n\n", "\n")
        return text if chomp == "-" else text + "\n"

    def value_after(rest, indent, number, where):
        """The value of a `key: rest` or `- rest` at `indent`."""
        if rest is None or rest == "":
            if pos[0] < len(lines) and (lines[pos[0]][1] > indent or
                                        (lines[pos[0]][1] == indent and lines[pos[0]][2].startswith("- "))):
                return node(lines[pos[0]][1])
            return None
        if rest[0] in "|>":
            return block_scalar(rest, indent, number, where)
        value = _scalar(rest, where)
        # A plain scalar may continue on more-indented lines.
        if isinstance(value, str) and rest[0] not in "'\"[{":
            while pos[0] < len(lines) and lines[pos[0]][1] > indent and not _KEY.match(lines[pos[0]][2]) \
                    and not lines[pos[0]][2].startswith("- "):
                value += " " + lines[pos[0]][2]
                pos[0] += 1
        return value

    def node(indent):
        number, this, text = lines[pos[0]]
        if this != indent:
            raise YamlError(f"{path}:{number}: bad indentation")
        if text.startswith("- ") or text == "-":
            seq = []
            while pos[0] < len(lines) and lines[pos[0]][1] == indent and \
                    (lines[pos[0]][2].startswith("- ") or lines[pos[0]][2] == "-"):
                number, _, text = lines[pos[0]]
                rest = text[2:].strip()
                where = f"{path}:{number}"
                if rest and _KEY.match(rest) and rest[0] not in "'\"[{":
                    # "- key: value" starts a mapping indented at the item's content.
                    lines[pos[0]] = (number, indent + 2 + (len(text[2:]) - len(text[2:].lstrip())), rest)
                    seq.append(node(lines[pos[0]][1]))
                else:
                    pos[0] += 1
                    seq.append(value_after(rest, indent, number, where))
            return seq
        mapping = {}
        while pos[0] < len(lines) and lines[pos[0]][1] == indent:
            number, _, text = lines[pos[0]]
            where = f"{path}:{number}"
            if text.startswith("- "):
                break
            m = _KEY.match(text)
            if not m:
                raise YamlError(f"{where}: expected 'key: value', got {text!r}")
            key = _scalar(m.group(1), where)
            if key in mapping:
                raise YamlError(f"{where}: duplicate key {key}")
            pos[0] += 1
            mapping[key] = value_after(m.group(2), indent, number, where)
        if pos[0] < len(lines) and lines[pos[0]][1] > indent:
            raise YamlError(f"{path}:{lines[pos[0]][0]}: bad indentation")
        return mapping

    if not lines:
        return None
    result = node(lines[0][1])
    if pos[0] != len(lines):
        raise YamlError(f"{path}:{lines[pos[0]][0]}: unexpected content")
    return result


# --------------------------------------------------------------------------------------------
# PromQL: the metric names an expression selects.

_KEYWORDS = {
    "and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "group_left",
    "group_right", "inf", "nan", "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count",
    "count_values", "bottomk", "topk", "quantile", "atan2",
}


def metric_names(expr):
    text = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expr)
    names = set(re.findall(r'__name__\s*=\s*"([^"]*)"', expr))
    text = re.sub(r"\{[^{}]*\}", " ", text)
    text = re.sub(r"\[[^\[\]]*\]", " ", text)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)", " ", text)
    for m in re.finditer(r"(?<![\w:.])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?", text):
        name, call = m.group(1), m.group(2)
        if call or name in _KEYWORDS:
            continue
        names.add(name)
    return names


PROMETHEUS_OWN = {"up", "scrape_duration_seconds", "scrape_samples_scraped",
                  "scrape_samples_post_metric_relabeling", "scrape_series_added", "ALERTS",
                  "ALERTS_FOR_STATE"}


def load_metric_names(path):
    families = {}
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            parts = line.split()
            if len(parts) not in (2, 3) or parts[1] not in ("counter", "gauge", "histogram", "summary", "untyped") \
                    or (len(parts) == 3 and parts[2] != "lazy"):
                raise SystemExit(f"{path}:{number}: expected 'name type [lazy]', got {line!r}")
            families[parts[0]] = (parts[1], len(parts) == 3)
    return families


def sample_names(family, kind):
    if kind == "histogram":
        return {family + "_bucket", family + "_sum", family + "_count"}
    if kind == "summary":
        return {family, family + "_sum", family + "_count"}
    return {family}


# --------------------------------------------------------------------------------------------
# Grafana.

GRAFANA_BUILTINS = {"__rate_interval": "1m", "__interval": "1m", "__interval_ms": "60000",
                    "__range": "1h", "__range_s": "3600", "__range_ms": "3600000",
                    "__dashboard": "x", "__name": "x", "__org": "x", "__user": "x",
                    "__from": "0", "__to": "0", "timeFilter": "x"}
_VAR = re.compile(r"\$\{(\w+)(?::[^}]*)?\}|\[\[(\w+)(?::[^\]]*)?\]\]|\$(\w+)")


def substitute(expr, defined, problems, where):
    def repl(m):
        name = m.group(1) or m.group(2) or m.group(3)
        if name in GRAFANA_BUILTINS:
            return GRAFANA_BUILTINS[name]
        if name not in defined:
            problems.append(f"{where}: uses ${name}, which the dashboard does not define")
        return "x"
    return _VAR.sub(repl, expr)


def all_panels(panels):
    for p in panels:
        yield p
        yield from all_panels(p.get("panels", []))


def check_dashboards(paths, problems):
    """Returns [(where, expr)] of every expr (substituted) and label_values selector."""
    exprs, uids, titles = [], {}, {}
    for path in paths:
        name = os.path.basename(path)
        try:
            with open(path, encoding="utf-8") as f:
                d = json.load(f)
        except (OSError, json.JSONDecodeError) as e:
            problems.append(f"{name}: not valid JSON: {e}")
            continue
        if not isinstance(d, dict):
            problems.append(f"{name}: not a dashboard object")
            continue
        for key, seen in (("uid", uids), ("title", titles)):
            value = d.get(key)
            if not value:
                problems.append(f"{name}: no {key}")
            elif value in seen:
                problems.append(f"{name}: {key} {value!r} also in {seen[value]}")
            else:
                seen[value] = name
        if not any(i.get("name") == "DS_PROMETHEUS" and i.get("pluginId") == "prometheus"
                   for i in d.get("__inputs", [])):
            problems.append(f"{name}: no __inputs entry DS_PROMETHEUS (pluginId prometheus)")
        variables = d.get("templating", {}).get("list", [])
        defined = {v.get("name") for v in variables}
        if not any(v.get("name") == "DS_PROMETHEUS" and v.get("type") == "datasource" and v.get("query") == "prometheus"
                   for v in variables):
            problems.append(f"{name}: no datasource variable DS_PROMETHEUS of type prometheus")
        for v in variables:
            if v.get("type") != "query":
                continue
            where = f"{name}: variable {v.get('name')}"
            query = v.get("query")
            query = query.get("query") if isinstance(query, dict) else query
            m = re.match(r"^\s*label_values\((.*),\s*(\w+)\s*\)\s*$", query or "")
            if not m:
                problems.append(f"{where}: query is not label_values(selector, label): {query!r}")
                continue
            exprs.append((where, substitute(m.group(1), defined, problems, where)))
        ids = {}
        panels = list(all_panels(d.get("panels", [])))
        if not panels:
            problems.append(f"{name}: no panels")
        for p in panels:
            pid = p.get("id")
            where = f"{name}: panel {pid} {p.get('title')!r}"
            if not isinstance(pid, int):
                problems.append(f"{where}: no integer id")
            elif pid in ids:
                problems.append(f"{where}: id {pid} also used by {ids[pid]!r}")
            else:
                ids[pid] = p.get("title")
            if p.get("type") == "row":
                continue
            ds = p.get("datasource") or {}
            if not (isinstance(ds, dict) and ds.get("uid") == "${DS_PROMETHEUS}"):
                problems.append(f"{where}: datasource is not ${{DS_PROMETHEUS}}")
            targets = p.get("targets") or []
            if not targets:
                problems.append(f"{where}: no targets")
            for t in targets:
                expr = t.get("expr")
                twhere = f"{where} target {t.get('refId')}"
                if not isinstance(expr, str) or not expr.strip():
                    problems.append(f"{twhere}: no expr")
                    continue
                tds = t.get("datasource")
                if tds is not None and not (isinstance(tds, dict) and tds.get("uid") == "${DS_PROMETHEUS}"):
                    problems.append(f"{twhere}: datasource is not ${{DS_PROMETHEUS}}")
                exprs.append((twhere, substitute(expr, defined, problems, twhere)))
    return exprs


def promtool_check(promtool, exprs, problems):
    """Every expr as a recording rule; promtool check rules must accept the file."""
    if not exprs:
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "dashboard-exprs.yml")
        with open(path, "w", encoding="utf-8") as f:
            f.write("groups:\n  - name: dashboard-exprs\n    rules:\n")
            for i, (_, expr) in enumerate(exprs):
                f.write(f"      - record: dashboard_expr_{i}\n        expr: {json.dumps(expr)}\n")
        run = subprocess.run([promtool, "check", "rules", path], capture_output=True, text=True)
        if run.returncode == 0:
            return
        output = run.stdout + run.stderr
        # promtool names the failing rules by their number (1-based within the group).
        bad = {int(n) - 1 for n in re.findall(r"rule (\d+)", output)}
        for i in sorted(bad):
            if 0 <= i < len(exprs):
                problems.append(f"{exprs[i][0]}: not valid PromQL: {exprs[i][1]}")
        problems.append("promtool check rules on the dashboards' expressions failed:\n" + output.strip())


# --------------------------------------------------------------------------------------------
# Rules.

def github_anchor(heading):
    slug = heading.strip().lower()
    slug = re.sub(r"[^\w\- ]", "", slug)
    return slug.replace(" ", "-")


def readme_anchors(path):
    anchors = set()
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
            if m:
                anchors.add(github_anchor(m.group(1)))
            anchors.update(re.findall(r'<a (?:id|name)="([^"]+)"', line))
    return anchors


def check_rules(rule_paths, test_paths, readme, problems):
    """Returns ([(where, expr)], recorded names)."""
    exprs, recorded, alerts = [], set(), {}
    anchors = readme_anchors(readme) if os.path.exists(readme) else set()
    if not anchors:
        problems.append(f"{readme}: missing or without headings")
    for path in rule_paths:
        name = os.path.basename(path)
        try:
            doc = load_yaml(path)
        except YamlError as e:
            problems.append(str(e))
            continue
        for group in (doc or {}).get("groups", []):
            for rule in group.get("rules", []):
                if "record" in rule:
                    recorded.add(rule["record"])
                    exprs.append((f"{name}: record {rule['record']}", rule.get("expr", "")))
                    continue
                alert = rule.get("alert")
                where = f"{name}: alert {alert}"
                if alert in alerts:
                    problems.append(f"{where}: also defined in {alerts[alert]}")
                alerts[alert] = name
                exprs.append((where, str(rule.get("expr", ""))))
                severity = (rule.get("labels") or {}).get("severity")
                if severity not in ("warning", "critical"):
                    problems.append(f"{where}: severity label is {severity!r}, not warning or critical")
                annotations = rule.get("annotations") or {}
                for key in ("summary", "description", "runbook_url"):
                    if not annotations.get(key):
                        problems.append(f"{where}: no {key} annotation")
                url = annotations.get("runbook_url") or ""
                m = re.search(r"deploy/prometheus/README\.md#([\w-]+)$", url)
                if not m:
                    problems.append(f"{where}: runbook_url {url!r} is not deploy/prometheus/README.md#<anchor>")
                elif m.group(1) not in anchors:
                    problems.append(f"{where}: deploy/prometheus/README.md has no heading #{m.group(1)}")
    firing, quiet = set(), set()
    for path in test_paths:
        try:
            doc = load_yaml(path)
        except YamlError as e:
            problems.append(str(e))
            continue
        for test in (doc or {}).get("tests", []):
            for case in test.get("alert_rule_test", []) or []:
                (firing if case.get("exp_alerts") else quiet).add(case.get("alertname"))
    for alert in sorted(alerts):
        if alert not in firing:
            problems.append(f"alert {alert}: no unit test where it fires")
        if alert not in quiet:
            problems.append(f"alert {alert}: no unit test where it does not fire")
    for alert in sorted((firing | quiet) - set(alerts)):
        problems.append(f"unit tests name alert {alert}, which no rule file defines")
    return exprs, recorded


def source_mentions(root, name):
    for d in ("services", "libs"):
        for dirpath, _, files in os.walk(os.path.join(root, d)):
            for f in files:
                if f.endswith((".cc", ".h")):
                    with open(os.path.join(dirpath, f), encoding="utf-8", errors="replace") as fh:
                        if name in fh.read():
                            return True
    return False


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", default=os.path.normpath(os.path.join(here, "..", "..")))
    parser.add_argument("--promtool", default="promtool")
    parser.add_argument("--dashboards")
    parser.add_argument("--rules")
    parser.add_argument("--tests")
    parser.add_argument("--metric-names")
    args = parser.parse_args()
    root = args.root
    dashboards = args.dashboards or os.path.join(root, "deploy/grafana/dashboards")
    rules = args.rules or os.path.join(root, "deploy/prometheus/rules")
    tests = args.tests or os.path.join(root, "deploy/prometheus/tests")
    names_file = args.metric_names or os.path.join(here, "metric_names.txt")

    problems = []
    dashboard_paths = sorted(glob.glob(os.path.join(dashboards, "*.json")))
    rule_paths = sorted(glob.glob(os.path.join(rules, "*.yml")))
    test_paths = sorted(glob.glob(os.path.join(tests, "*.yml")))
    if not dashboard_paths:
        problems.append(f"no dashboards in {dashboards}")
    if not rule_paths:
        problems.append(f"no rule files in {rules}")

    dashboard_exprs = check_dashboards(dashboard_paths, problems)
    rule_exprs, recorded = check_rules(rule_paths, test_paths, os.path.join(root, "deploy/prometheus/README.md"),
                                       problems)
    promtool_check(args.promtool, dashboard_exprs, problems)

    families = load_metric_names(names_file)
    known = set(PROMETHEUS_OWN) | recorded
    for family, (kind, lazy) in families.items():
        known |= sample_names(family, kind)
        if lazy and not source_mentions(root, family):
            problems.append(f"{names_file}: lazy family {family} is named nowhere in services/ or libs/")
    used = 0
    for where, expr in dashboard_exprs + rule_exprs:
        for name in sorted(metric_names(expr)):
            used += 1
            if name not in known:
                problems.append(f"{where}: metric {name} is not exposed by any Tahe process "
                                f"(tests/monitoring/metric_names.txt) nor recorded by a rule")

    for p in problems:
        print(f"check_monitoring: {p}", file=sys.stderr)
    if problems:
        print(f"check_monitoring: FAILED, {len(problems)} problem(s)", file=sys.stderr)
        return 1
    print(f"check_monitoring: OK: {len(dashboard_paths)} dashboards, {len(dashboard_exprs)} dashboard "
          f"expressions valid PromQL, {len(rule_exprs)} rules, {used} metric references all known")
    return 0


if __name__ == "__main__":
    sys.exit(main())
