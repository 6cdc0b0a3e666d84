"""``ftpolicy audit report``: a readable audit report of a replayed revision (JSON, Markdown, HTML).

:func:`report_document` turns a :class:`~ftpolicy.audit.replay.ReplayResult` into one
document: per adapter version, the chain from corpus to promoted adapter (each step with
its signers, teams, signing times, link, evidence digest and an evidence summary: scan
counts, eval scores against thresholds, review/approval decisions), the chain failures,
the policy decision at the revision and the policy drift. :func:`render_markdown` draws the
chain as a Mermaid flowchart; :func:`render_html` writes one self-contained HTML file (inline
CSS and an inline SVG graph per adapter, no scripts, no external resources) that an auditor
can open offline. All output is deterministic for the same replay.
"""

from __future__ import annotations

import html
import itertools
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ftpolicy.audit.replay import ReplayResult

REPORT_VERSION = "ftpolicy/audit-report/v1"


def evidence_summary(step: str, data: Any) -> str:
    """A one-line human summary of a step's evidence document."""
    if not isinstance(data, dict):
        return ""
    kind = str(data.get("kind", ""))
    if isinstance(data.get("results"), list):
        parts = []
        for r in data["results"]:
            if isinstance(r, dict) and "category" in r:
                mark = "ok" if float(r.get("score", 0)) >= float(r.get("threshold", 0)) else "BELOW"
                parts.append(f"{r['category']} {r.get('score')}/{r.get('threshold')} {mark}")
        suite = data.get("suite") or {}
        where = f"suite {suite.get('name')}@{suite.get('version')}: " if isinstance(suite, dict) else ""
        return where + ", ".join(parts)
    if kind == "scan-summary" or "counts" in data:
        counts = data.get("counts") or {}
        return f"scan: {counts.get('total', 0)} finding(s), status {data.get('status', '?')}"
    if isinstance(data.get("findings"), list):
        return f"scan: {len(data['findings'])} finding(s)"
    if "decision" in data:
        return f"decision: {data['decision']}"
    if kind == "evidence-promotion":
        return f"promotion to {data.get('channel')}"
    return kind


def report_document(result: ReplayResult) -> dict[str, Any]:
    """The ``--format json`` document (``ftpolicy/audit-report/v1``)."""
    adapters = []
    for a in result.adapters:
        steps = []
        for s in a.chain.get("steps", []):
            atts = []
            for att in s.get("attestations", []):
                ev = att.get("evidence") or {}
                atts.append(
                    {
                        "identity": att.get("identity"),
                        "teams": att.get("teams", []),
                        "signer": att.get("signer"),
                        "time": att.get("time"),
                        "link": att.get("link"),
                        "evidence": ev.get("path"),
                        "evidence_sha256": ev.get("sha256"),
                        "summary": evidence_summary(s["name"], ev.get("data")),
                    }
                )
            atts.sort(key=lambda x: (str(x["identity"]), str(x["time"]), str(x["link"])))
            failed = sorted({f["code"] for f in a.failures if f.get("step") == s["name"]})
            steps.append(
                {
                    "name": s["name"],
                    "subject": s["subject"],
                    "teams": s.get("teams", []),
                    "threshold": s.get("threshold"),
                    "identities": s.get("identities", []),
                    "ok": len(s.get("identities", [])) >= int(s.get("threshold") or 1) and not failed,
                    "failures": failed,
                    "attestations": atts,
                }
            )
        adapters.append(
            {
                "adapter": a.ref,
                "channels": list(a.channels),
                "ok": a.ok,
                "adapter_digest": a.chain.get("adapter_digest"),
                "registry_digest": a.registry_digest,
                "layout": a.chain.get("layout"),
                "steps": steps,
                "failures": a.failures,
                "not_rehashed": a.not_rehashed,
                "policies": a.policy,
                "drift": a.drift,
            }
        )
    return {
        "version": REPORT_VERSION,
        "rev": result.rev,
        "now": result.commit_time,
        "policies_from": result.policies_from,
        "ok": result.ok,
        "problems": result.problems,
        "adapters": adapters,
    }


def render_json(doc: dict[str, Any]) -> str:
    """Sorted, indented JSON."""
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


def _mermaid_id(i: int) -> str:
    return f"s{i}"


def render_markdown(doc: dict[str, Any]) -> str:
    """Markdown with a Mermaid flowchart and a table per adapter."""
    out = [
        f"# Audit report at `{doc['rev'][:12]}`",
        "",
        f"Replayed at the commit time {doc['now']}; result: **{'pass' if doc['ok'] else 'fail'}**.",
        "",
    ]
    for p in doc["problems"]:
        out.append(f"- problem: `{p['path']}`: {p['message']}")
    for a in doc["adapters"]:
        out += [f"## {a['adapter']} ({', '.join(a['channels']) or 'no channel'})", ""]
        out += [f"Verdict: **{'PASS' if a['ok'] else 'FAIL'}**; adapter digest `{a['adapter_digest']}`.", ""]
        out += ["```mermaid", "flowchart LR"]
        for i, s in enumerate(a["steps"]):
            who = ", ".join(s["identities"]) or "nobody"
            label = f"{s['name']}<br/>{who}".replace('"', "'")
            out.append(f'  {_mermaid_id(i)}["{label}"]')
            if i:
                out.append(f"  {_mermaid_id(i - 1)} --> {_mermaid_id(i)}")
            out.append(f"  style {_mermaid_id(i)} fill:{'#d7f5dd' if s['ok'] else '#f9d6d5'}")
        out += ["```", ""]
        out += ["| step | subject | signed by (teams) | time | evidence |", "|---|---|---|---|---|"]
        for s in a["steps"]:
            for att in s["attestations"] or [{}]:
                who = f"{att.get('identity', '—')} ({', '.join(att.get('teams', []))})" if att else "—"
                ev = att.get("summary") or att.get("evidence") or ""
                out.append(f"| {s['name']} | {s['subject']} | {who} | {att.get('time', '')} | {ev} |")
        out.append("")
        for f in a["failures"]:
            out.append(f"- chain failure `{f['code']}`: {f['message']}")
        for n in a["not_rehashed"]:
            out.append(f"- {n}")
        pol = a["policies"] or {}
        out.append(f"- policies at this revision: {'allow' if pol.get('allow') else 'deny'}")
        for v in pol.get("deny", []):
            out.append(f"  - deny `{v['rule']}`: {v['msg']}")
        if a["drift"] is not None:
            for v in a["drift"]["newly_denied"]:
                out.append(f"- would now be denied (`{a['drift']['rev'][:12]}`) by `{v['rule']}`: {v['msg']}")
        out.append("")
    return "\n".join(out) + "\n"


_BOX_W, _BOX_H, _GAP, _PER_ROW = 150, 58, 30, 5


def chain_svg(adapter: dict[str, Any]) -> str:
    """An inline SVG of the chain: one box per step (green held, red failed), arrows between."""
    steps = adapter["steps"]
    rows = max(1, (len(steps) + _PER_ROW - 1) // _PER_ROW)
    width = _PER_ROW * (_BOX_W + _GAP) + _GAP
    height = rows * (_BOX_H + _GAP) + _GAP
    e = html.escape
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="chain of {e(adapter["adapter"])}">',
        '<defs><marker id="arrow" markerWidth="8" markerHeight="8" refX="7" refY="4" orient="auto">'
        '<path d="M0,0 L8,4 L0,8 z" fill="#555"/></marker></defs>',
    ]
    centers = []
    for i, s in enumerate(steps):
        row, col = divmod(i, _PER_ROW)
        x, y = _GAP + col * (_BOX_W + _GAP), _GAP + row * (_BOX_H + _GAP)
        centers.append((x, y))
        fill, stroke = ("#d7f5dd", "#2e7d32") if s["ok"] else ("#f9d6d5", "#c62828")
        who = ", ".join(s["identities"]) or "nobody"
        parts.append(
            f"<g><title>{e(s['name'])} [{e(s['subject'])}]: {e(who)}</title>"
            f'<rect x="{x}" y="{y}" width="{_BOX_W}" height="{_BOX_H}" rx="6" fill="{fill}" '
            f'stroke="{stroke}" stroke-width="2"/>'
            f'<text x="{x + _BOX_W // 2}" y="{y + 22}" text-anchor="middle" font-size="13" '
            f'font-weight="bold">{e(s["name"])}</text>'
            f'<text x="{x + _BOX_W // 2}" y="{y + 42}" text-anchor="middle" font-size="11">'
            f"{e(who[:24])}</text>"
            "</g>"
        )
    for (x1, y1), (x2, y2) in itertools.pairwise(centers):
        if y1 == y2:
            parts.append(
                f'<line x1="{x1 + _BOX_W}" y1="{y1 + _BOX_H // 2}" x2="{x2 - 2}" y2="{y2 + _BOX_H // 2}" '
                'stroke="#555" stroke-width="2" marker-end="url(#arrow)"/>'
            )
        else:
            parts.append(
                f'<path d="M{x1 + _BOX_W // 2},{y1 + _BOX_H} L{x1 + _BOX_W // 2},{y1 + _BOX_H + _GAP // 2} '
                f'L{x2 + _BOX_W // 2},{y1 + _BOX_H + _GAP // 2} L{x2 + _BOX_W // 2},{y2 - 2}" fill="none" '
                'stroke="#555" stroke-width="2" marker-end="url(#arrow)"/>'
            )
    parts.append("</svg>")
    return "".join(parts)


_CSS = (
    "body{font-family:system-ui,sans-serif;margin:2em;color:#222}"
    "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #bbb;padding:4px 8px;"
    "font-size:13px;vertical-align:top}th{background:#eee}.pass{color:#2e7d32}.fail{color:#c62828}"
    "code{font-size:12px}td code{word-break:break-all}table{max-width:100%}"
)


def render_html(doc: dict[str, Any]) -> str:
    """One self-contained HTML page (inline CSS and SVG; no scripts, no external resources)."""
    e = html.escape
    verdict = "pass" if doc["ok"] else "fail"
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>ftpolicy audit report {e(doc['rev'][:12])}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>Audit report at <code>{e(doc['rev'])}</code></h1>",
        f"<p>Replayed from Git objects at the commit time {e(doc['now'])}. "
        f'Result: <strong class="{verdict}">{verdict}</strong>.</p>',
    ]
    if doc["policies_from"]:
        out.append(f"<p>Policy drift against the policies of <code>{e(doc['policies_from'])}</code>.</p>")
    for p in doc["problems"]:
        out.append(f'<p class="fail">problem: <code>{e(p["path"])}</code>: {e(p["message"])}</p>')
    if not doc["adapters"]:
        out.append("<p>No adapter version is in a registry channel at this revision.</p>")
    for a in doc["adapters"]:
        cls = "pass" if a["ok"] else "fail"
        out.append(
            f'<section><h2>{e(a["adapter"])} <span class="{cls}">{"PASS" if a["ok"] else "FAIL"}</span></h2>'
        )
        out.append(
            f"<p>Channels: {e(', '.join(a['channels']) or 'none')}. Adapter digest "
            f"<code>{e(str(a['adapter_digest']))}</code>; registry records "
            f"<code>{e(str(a['registry_digest']))}</code>.</p>"
        )
        out.append(chain_svg(a))
        out.append(
            "<table><tr><th>step</th><th>subject</th><th>signed by</th><th>teams</th><th>time</th>"
            "<th>link</th><th>evidence</th><th>summary</th></tr>"
        )
        for s in a["steps"]:
            for att in s["attestations"] or [{}]:
                ev = att.get("evidence")
                ev_cell = (
                    f"<code>{e(ev)}</code><br><code>{e(str(att.get('evidence_sha256')))}</code>" if ev else ""
                )
                out.append(
                    f"<tr><td>{e(s['name'])}</td><td>{e(s['subject'])}</td>"
                    f"<td>{e(str(att.get('identity', '—')))}</td>"
                    f"<td>{e(', '.join(att.get('teams', [])))}</td>"
                    f"<td>{e(str(att.get('time', '')))}</td>"
                    f"<td><code>{e(str(att.get('link', '')))}</code></td>"
                    f"<td>{ev_cell}</td><td>{e(str(att.get('summary', '')))}</td></tr>"
                )
        out.append("</table>")
        if a["failures"]:
            out.append("<h3>Chain failures</h3><ul>")
            out += [f"<li><code>{e(f['code'])}</code>: {e(f['message'])}</li>" for f in a["failures"]]
            out.append("</ul>")
        if a["not_rehashed"]:
            out.append("<ul>" + "".join(f"<li>{e(n)}</li>" for n in a["not_rehashed"]) + "</ul>")
        pol = a["policies"] or {}
        out.append(f"<h3>Policies at this revision: {'allow' if pol.get('allow') else 'deny'}</h3><ul>")
        out += [f"<li><code>{e(v['rule'])}</code>: {e(v['msg'])}</li>" for v in pol.get("deny", [])]
        out.append("</ul>")
        if a["drift"] is not None:
            newly = a["drift"]["newly_denied"]
            out.append(
                f"<h3>Policies at {e(a['drift']['rev'][:12])}: "
                f"{'would now deny' if newly else 'no drift'}</h3>"
            )
            out.append(
                "<ul>" + "".join(f"<li><code>{e(v['rule'])}</code>: {e(v['msg'])}</li>" for v in newly)
            )
            out.append("</ul>")
        out.append("</section>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def render_report(result: ReplayResult, fmt: str) -> str:
    """``json``, ``md`` or ``html``."""
    doc = report_document(result)
    if fmt == "json":
        return render_json(doc)
    if fmt == "md":
        return render_markdown(doc)
    return render_html(doc)
