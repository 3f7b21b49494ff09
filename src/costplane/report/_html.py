"""The HTML report (adapter): one self-contained file, charts as inline PNG (matplotlib, Agg), no scripts.

Sections: headline numbers, savings against the baseline, spend over time by team with idle,
cost and efficiency by team, efficiency by workload, and the top waste findings with their savings.
"""

from __future__ import annotations

import base64
import html
import io
from datetime import datetime, timezone
from typing import Any

import numpy as np

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1100px;color:#1d2733}
h1{margin-bottom:.2rem} .muted{color:#66717f;font-size:.9rem}
.cards{display:flex;gap:1rem;flex-wrap:wrap;margin:1rem 0}
.card{border:1px solid #dde3ea;border-radius:8px;padding:.8rem 1.1rem;min-width:180px}
.card b{display:block;font-size:1.5rem}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1.5rem} th,td{padding:.35rem .6rem;border-bottom:1px solid #e6eaef;text-align:left}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums} img{max-width:100%;border:1px solid #eef1f4;border-radius:6px}
"""


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _iso(ts_s: float) -> str:
    return datetime.fromtimestamp(ts_s, tz=timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def spend_chart(starts: np.ndarray, by_key: dict[str, np.ndarray], idle: np.ndarray, bucket_s: float) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    times = [datetime.fromtimestamp(s, tz=timezone.utc) for s in starts]
    fig, ax = plt.subplots(figsize=(10, 3.8))
    per_h = 3600.0 / bucket_s
    stacks = [v * per_h for v in by_key.values()] + [idle * per_h]
    ax.stackplot(times, *stacks, labels=list(by_key) + ["idle"], step="post", alpha=0.9,
                 colors=[*plt.cm.tab10.colors[: len(by_key)], "#c9ced6"])
    ax.set_ylabel("USD per hour")
    ax.set_title("Spend over time by team (idle in grey)")
    ax.legend(loc="upper left", ncol=min(6, len(stacks)), fontsize=8)
    ax.grid(alpha=0.3)
    fig.autofmt_xdate()
    return _png(fig)


def team_chart(rows: list[dict[str, Any]], idle_usd: float) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = [r["key"] for r in rows] + ["idle"]
    costs = [r["cost_usd"] for r in rows] + [idle_usd]
    eff = [100 * (r["efficiency"] or 0) for r in rows]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.4))
    a1.barh(keys[::-1], costs[::-1], color=[*["#3b7dd8"] * len(rows), "#c9ced6"][::-1])
    a1.set_xlabel("USD over the window")
    a1.set_title("Cost by team, idle apart")
    a2.barh(keys[:-1][::-1], eff[::-1], color="#2e9e6b")
    a2.set_xlim(0, 100)
    a2.set_xlabel("GPU efficiency, % (used / charged GPU-hours)")
    a2.set_title("Efficiency by team")
    for a in (a1, a2):
        a.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return _png(fig)


def waste_chart(workloads: list[dict[str, Any]], top: int = 15) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    w = sorted(workloads, key=lambda r: -r["monthly_saving_usd"])[:top]
    fig, ax = plt.subplots(figsize=(10, 0.32 * max(len(w), 3) + 1))
    names = [r["workload"][:28] for r in w][::-1]
    ax.barh(names, [r["monthly_saving_usd"] for r in w][::-1], color="#d8773b")
    for y, r in enumerate(w[::-1]):
        ax.text(r["monthly_saving_usd"], y, f"  eff {100 * r['efficiency']:.0f}% · {r['recommendation_kind']}",
                va="center", fontsize=7)
    ax.set_xlabel("USD per month saved by the recommended action")
    ax.set_title(f"Top {len(w)} waste findings")
    ax.grid(axis="x", alpha=0.3)
    return _png(fig)


def _table(headers: list[str], rows: list[list[Any]], numeric: set[int]) -> str:
    head = "".join(f'<th class="{"n" if i in numeric else ""}">{html.escape(h)}</th>' for i, h in enumerate(headers))
    body = "".join("<tr>" + "".join(f'<td class="{"n" if i in numeric else ""}">{html.escape(str(c))}</td>'
                                    for i, c in enumerate(r)) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _money(x: float | None) -> str:
    return "–" if x is None else f"${x:,.2f}"


def render_report(ctx: dict[str, Any]) -> str:
    """HTML for the report context built by the CLI (cost, timeline, waste, savings)."""
    cost, waste, savings = ctx["cost"], ctx["waste"], ctx["savings"]
    rows = cost["rows"]
    allocated = [r for r in rows if r.get("kind") == "allocated" and r["efficiency"] is not None]
    gpu_h = sum(r["gpu_hours"] for r in allocated)
    used_h = sum(r.get("used_gpu_hours", 0.0) for r in allocated)
    cards = [("Total cost", _money(cost["total_usd"])), ("Idle cost", _money(cost["idle_usd"])),
             ("GPU efficiency", f"{100 * used_h / gpu_h:.1f}%" if gpu_h else "–"),
             ("Saved vs baseline", _money(savings["saved_usd"])),
             ("Potential / month", _money(waste.get("total_monthly_saving_usd")))]
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>costplane report</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>GPU cost report</h1>",
        f'<p class="muted">Window {html.escape(_iso(cost["window"]["start_s"]))} → '
        f'{html.escape(_iso(cost["window"]["end_s"]))} · source: {html.escape(cost["source"])} · '
        f'generated by costplane</p>',
        '<div class="cards">' + "".join(f"<div class=card>{html.escape(k)}<b>{html.escape(v)}</b></div>"
                                        for k, v in cards) + "</div>",
        "<h2>Spend over time</h2>", f'<img alt="spend over time by team" src="{ctx["charts"]["spend"]}">',
        "<h2>Cost and efficiency by team</h2>", f'<img alt="cost by team" src="{ctx["charts"]["teams"]}">',
        _table(["team", "kind", "cost", "GPU-hours", "used GPU-hours", "efficiency"],
               [[r["key"], r.get("kind", ""), _money(r["cost_usd"]), f'{r["gpu_hours"]:,.1f}',
                 f'{r.get("used_gpu_hours", 0):,.1f}',
                 "–" if r["efficiency"] is None else f'{100 * r["efficiency"]:.1f}%'] for r in rows]
               + [["idle", "idle", _money(cost["idle_usd"]), "", "", ""],
                  ["total", "", _money(cost["total_usd"]), "", "", ""]], {2, 3, 4, 5}),
        "<h2>Savings</h2>",
        _table(["measure", "value"], [
            ["realised cost", _money(savings["realised_usd"])],
            ["baseline", _money(savings["baseline_usd"])],
            ["baseline rule", savings["baseline_rule"]],
            ["saved vs baseline", _money(savings["saved_usd"]) + ("" if savings["saved_fraction"] is None
                                                                  else f' ({100 * savings["saved_fraction"]:.1f}%)')],
            ["planned saving of stored fleet plans", _money(savings["planned_saving_usd"])],
            ["potential saving of the waste findings, per month", _money(savings["potential_monthly_usd"])],
        ], {1}),
        "<h2>Top waste</h2>", f'<img alt="top waste" src="{ctx["charts"]["waste"]}">',
        _table(["workload", "paid GPU-h", "efficiency", "idle cost", "recommendation", "saving / month", "risk"],
               [[w["workload"], f'{w["paid_gpu_hours"]:,.1f}', f'{100 * w["efficiency"]:.1f}%', _money(w["idle_usd"]),
                 w["recommendation"], _money(w["monthly_saving_usd"]), w["risk"]]
                for w in sorted(waste["workloads"], key=lambda r: -r["monthly_saving_usd"])[:15]], {1, 2, 3, 5}),
        '<p class="muted">Allocation: max(request, usage) × unit price per resource (OpenCost model); idle = '
        "asset cost no workload claimed. Monthly savings assume the observed pattern repeats for 730 h.</p>",
        "</body></html>",
    ]
    return "\n".join(parts)
