"""The benchmark's tables: the comparison, the ratios against the targets, the scaling."""

import statistics

# (system, operation, other system, its operation, lowest ratio of req/s): the targets.
TARGETS = [("ours-json", op, other, op, least)
           for other, least, ops in (("ceiling", 0.8, ("legacy-list", "list")),
                                     ("peer-sqlite", 1.5, ("legacy-list", "list")),
                                     ("peer-sqlite", 1.0, ("legacy-create", "create")))
           for op in ops]
TARGETS += [("ours-pg", op, "peer-pg", op, 1.0)
            for op in ("legacy-list", "list", "legacy-create", "create")]
TARGETS += [("ours-pg", "update", "peer-pg", "update", 0.8)]
TARGETS += [(ours, op, ours, "legacy-list", 0.9)
            for ours in ("ours-json", "ours-pg") for op in ("list", "get")]
CREATE_SIZES = (1000, 50000)  # the JSON engine's create at the second within 1.25x of the first
# The JSON engine's largest worker at 50,000 datasets: half of the 172 MB measured at
# 9d0d8ae (268 MB at 100,000), before its memory was worked on.
MEMORY_SIZE, MEMORY_MB = 50000, 86
ERRORS = ("non2xx", "failed", "connect", "read", "write", "timeout")


def rate(result):
    return result["requests"] * 1e6 / result["duration_us"]


def summary(results):
    """Medians of a few runs: req/s, p50 and p99 in ms, workers' CPU per request in µs."""
    rates = [rate(r) for r in results]
    return {"rps": statistics.median(rates), "low": min(rates), "high": max(rates),
            "cpu": statistics.median(r["cpu_s"] / max(r["requests"], 1) for r in results) * 1e6,
            "p50": statistics.median(r["p50_us"] for r in results) / 1000,
            "p99": statistics.median(r["p99_us"] for r in results) / 1000}


def table(headers, rows, markdown):
    """Rows of cells as an aligned text table, or as a Markdown table."""
    if markdown:
        lines = [headers, ["---"] * len(headers)] + rows
        return "\n".join("| " + " | ".join(map(str, row)) + " |" for row in lines)
    widths = [max(len(str(row[i])) for row in [headers] + rows) for i in range(len(headers))]
    numeric = [all(str(row[i])[:1].isdigit() for row in rows) for i in range(len(headers))]
    return "\n".join("  ".join(str(c).rjust(w) if n else str(c).ljust(w)
                               for c, w, n in zip(row, widths, numeric)).rstrip()
                     for row in [headers] + rows)


def verdict(value, least):
    return "met" if value >= least else "MISSED"


def not_measured(missing, skipped):
    """Why a target has no value: an operation skipped (see Skipped), or a size not run."""
    ops = sorted({run.split()[-1] for run in missing} & skipped.keys())
    return f"not measured: {', '.join(ops)} skipped" if ops else "not measured: not run"


def ratio_rows(runs, skipped):
    """One row per target: the median of the rounds' ratios (runs close in time share the
    noise), their range, and the ratio of workers' CPU per request."""
    rows = []
    for name, op, other, other_op, least in TARGETS:
        label = f"{name} {op} / {other} {other_op}"
        missing = [f"{s} {o}" for s, o in ((name, op), (other, other_op)) if (s, o) not in runs]
        if missing:
            rows.append([label, "-", "-", f">= {least}", not_measured(missing, skipped), "-"])
            continue
        values = sorted(rate(a) / rate(b) for a, b in zip(runs[name, op], runs[other, other_op]))
        value = statistics.median(values)
        by_cpu = summary(runs[other, other_op])["cpu"] / summary(runs[name, op])["cpu"]
        rows.append([label, f"{value:.2f}", f"{values[0]:.2f}-{values[-1]:.2f}", f">= {least}",
                     verdict(value, least), f"{by_cpu:.2f}"])
    return rows


def scaling_rows(scaling, skipped):
    """The JSON engine's targets read off the scaling table."""
    rows = []
    low, high = CREATE_SIZES
    for op in ("legacy-create", "create"):
        label = f"ours-json {op} at {high:,} / at {low:,}"
        runs = [scaling.get(size, {}).get(("ours-json", op)) for size in CREATE_SIZES]
        if not all(runs):
            rows.append([label, "-", "-", ">= 0.8", not_measured([op], skipped), "-"])
            continue
        value = summary(runs[1])["rps"] / summary(runs[0])["rps"]
        by_cpu = summary(runs[0])["cpu"] / summary(runs[1])["cpu"]
        rows.append([label, f"{value:.2f}", "-", ">= 0.8 (within 1.25x)", verdict(value, 0.8),
                     f"{by_cpu:.2f}"])
    rss = scaling.get(MEMORY_SIZE, {}).get(("ours-json", "rss"))
    label = f"ours-json largest worker at {MEMORY_SIZE:,}, MB"
    if rss:
        rows.append([label, f"{max(rss):.0f}", f"{min(rss):.0f}-{max(rss):.0f}",
                     f"<= {MEMORY_MB}", "met" if max(rss) <= MEMORY_MB else "MISSED", "-"])
    else:
        rows.append([label, "-", "-", f"<= {MEMORY_MB}", not_measured([], skipped), "-"])
    return rows


def results(args, facts, comparison, scaling, skipped, runs, problems, markdown):
    """The whole report, as text or as Markdown."""
    heading = "\n### {}\n" if markdown else "\n== {} ==\n"
    settings = (f"N={args.size} datasets (+{args.others} other tenants with N/10 each), "
                f"{args.workers} sync workers, wrk 1 thread {args.connections} connections; "
                f"{args.repeats} rounds of {args.duration} s runs (after {args.warmup} s "
                "warm-up) per system and operation, systems rotating, each round on a fresh "
                "copy of the store; medians. Worker CPU per request (from /proc) is less "
                "sensitive than req/s to other load on the machine.")
    parts = [heading.format("Machine"), table(["machine", ""], facts, markdown),
             heading.format("Comparison"), settings + "\n"]
    ops = list(dict.fromkeys(op for _, op in comparison if op != "rss"))
    rows = [[op, name, f"{s['rps']:.0f}", f"{s['low']:.0f}-{s['high']:.0f}", f"{s['p50']:.2f}",
             f"{s['p99']:.2f}", f"{s['cpu']:.0f}"]
            for op in ops for (name, o), results_ in comparison.items() if o == op
            for s in [summary(results_)]]
    parts.append(table(["operation", "system", "req/s", "req/s min-max", "p50 ms", "p99 ms",
                        "worker CPU µs/req"], rows, markdown))
    parts += [heading.format("Targets"),
              table(["ratio of req/s", "value", "rounds min-max", "target", "verdict",
                     "by CPU/req"],
                    ratio_rows(comparison, skipped) + scaling_rows(scaling, skipped), markdown)]
    if scaling:
        parts += [heading.format("Scaling with the store's size"),
                  f"{args.scale_repeats} rounds per size; req/s (p50 ms); each worker's resident "
                  "memory (VmRSS) after the runs, largest (smallest-largest). PostgreSQL's own "
                  "memory is not in the workers'.\n", scaling_table(scaling, markdown)]
    if skipped:
        parts += [heading.format("Skipped")] + [f"{op}: {why}" for op, why in skipped.items()]
    if problems:
        errors = [f"!!! {len(problems)} RUNS SAW ERRORS; THE FIGURES ABOVE DO NOT COUNT:"]
        errors += [f"!!! {problem}" for problem in problems]
    else:
        errors = [f"none: 0 non-2xx or failed answers and 0 socket errors in all {runs} wrk runs"]
    parts += [heading.format("Errors")] + errors
    return "\n".join(parts) + "\n"


def scaling_table(scaling, markdown):
    ops = list(dict.fromkeys(op for runs in scaling.values() for _, op in runs if op != "rss"))
    rows = []
    for size, runs in scaling.items():
        for name in dict.fromkeys(name for name, _ in runs):
            cells = []
            for op in ops:
                s = summary(runs[name, op]) if (name, op) in runs else None
                cells.append(f"{s['rps']:.0f} ({s['p50']:.2f})" if s else "-")
            rss = runs[name, "rss"]
            rows.append([f"{size:,}", name] + cells
                        + [f"{max(rss):.0f} ({min(rss):.0f}-{max(rss):.0f})"])
    return table(["datasets", "system"] + ops + ["worker MB"], rows, markdown)
