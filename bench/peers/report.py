#!/usr/bin/env python3
"""Turns the raw records of bench/peers/run.sh into the Markdown table and the JSON file.

One raw record per run (system, workload, size, repetition): the client's JSON line and the
broker's /proc counters before and after it. Each figure of a row is the median over the
repetitions; the ratio columns are the ones the performance targets are written in."""
import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess

SYSTEM_NAMES = {
    "ironbus": "IronBus",
    "redis": "Redis Streams",
    "nats": "NATS JetStream",
    "floor": "disk floor",
}
POWER_LOSS_SAFE = {"ironbus": True, "redis": True, "nats": False, "floor": True}
WORKLOADS = {
    "a": "(a) 1 producer, 1 in flight",
    "b": "(b) 16 producers, 1 in flight each",
    "c": "(c) 1 producer, window 256",
    "d": "(d) drain stored messages, competing group, per-message acks",
    "e": "(e) drain stored messages, broadcast reader, cumulative acks",
}
FLOOR_NAMES = {"a": "floor, 1 writer", "b": "ideal group commit, 16 writers", "c": "ideal group commit, 256 writers"}


def sh(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=20).stdout.strip()
    except Exception:  # a missing tool leaves the field empty
        return ""


def machine(data_dir, ironbus):
    cpu = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_kb = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    df = sh(["df", "--output=source,fstype,target", data_dir]).splitlines()
    src, fstype, target = (df[-1].split() + ["", "", ""])[:3] if df else ("", "", "")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    commit = sh(["git", "-C", root, "rev-parse", "--short", "HEAD"])
    return {
        "cpu_model": cpu,
        "cores": os.cpu_count(),
        "ram_gib": round(mem_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
        "kernel_version": platform.version(),
        "os": sh(["sh", "-c", ". /etc/os-release && echo $PRETTY_NAME"]),
        "data_dir": os.path.abspath(data_dir),
        "data_dir_filesystem": fstype,
        "data_dir_device": src,
        "data_dir_mount": target,
        "data_dir_mount_options": sh(["findmnt", "-no", "OPTIONS", "-T", data_dir]),
    }, {
        "ironbus": sh([ironbus, "--version"]),
        "ironbus_binary": os.path.abspath(ironbus),
        # A dynamic binary's peak RSS includes the resident pages of its shared libraries
        # (libstdc++, libc, libcrypto...), a static one only what it links (docs/performance.md).
        "ironbus_linkage": "dynamic" if "INTERP" in sh(["readelf", "-lW", ironbus]) else "static",
        "ironbus_binary_built": datetime.datetime.fromtimestamp(os.path.getmtime(ironbus), datetime.timezone.utc)
        .isoformat(timespec="seconds"),
        "repo_head": commit,
        "redis_server": sh(["redis-server", "--version"]),
        "nats_server": sh(["nats-server", "--version"]),
        "libhiredis": sh(["dpkg-query", "-W", "-f=${Version}", "libhiredis-dev"]),
        "libnats": sh(["dpkg-query", "-W", "-f=${Version}", "libnats-dev"]),
        "cc": sh(["cc", "--version"]).splitlines()[0] if sh(["cc", "--version"]) else "",
    }


def figures(rec):
    """The per-run figures of one raw record, or None for a failed run."""
    c = rec.get("client")
    if not c:
        return None
    sys_ = rec["system"]
    b = rec.get("broker") or {}
    if sys_ == "ironbus":
        msgs = c.get("produced") if c.get("mode") == "publish" else c.get("consumed")
        p50, p99, p999 = c.get("latency_p50_us"), c.get("latency_p99_us"), c.get("latency_p999_us")
    else:
        msgs = c.get("msgs")
        p50, p99, p999 = c.get("p50_us"), c.get("p99_us"), c.get("p999_us")
    if sys_ == "floor":
        rss_kb, cpu_s, wb = c.get("self_vmhwm_kb"), c.get("self_cpu_s"), c.get("self_write_bytes")
    else:
        rss_kb = b.get("vmhwm_kb")
        cpu_s = None
        if b.get("cpu_s_after") is not None and b.get("cpu_s_before") is not None:
            cpu_s = b["cpu_s_after"] - b["cpu_s_before"]
        wb = None
        if b.get("write_bytes_after") is not None and b.get("write_bytes_before") is not None:
            wb = b["write_bytes_after"] - b["write_bytes_before"]
    fsyncs = fsync_us = committed = None
    if sys_ == "ironbus":
        m0, m1 = b.get("metrics_before") or {}, b.get("metrics_after") or {}
        if "ironbus_fsyncs_total" in m0 and "ironbus_fsyncs_total" in m1:
            fsyncs = m1["ironbus_fsyncs_total"] - m0["ironbus_fsyncs_total"]
        n0 = m0.get("ironbus_fsync_duration_seconds_count")
        n1 = m1.get("ironbus_fsync_duration_seconds_count")
        if n0 is not None and n1 is not None and n1 > n0:
            fsync_us = (m1["ironbus_fsync_duration_seconds_sum"] - m0["ironbus_fsync_duration_seconds_sum"]) / (n1 - n0) * 1e6
        group = c.get("group")
        if group:
            committed = m1.get(f'ironbus_group_committed_offset{{group="{group}"}}')
            committed = committed is not None and committed >= (msgs or 0)
    elif sys_ == "redis" and c.get("mode") == "drain-group":
        committed = c.get("pending_after") == 0
    elif sys_ == "nats" and str(c.get("mode", "")).startswith("drain"):
        committed = c.get("ack_pending_after") == 0 and (c.get("ack_floor_after") or 0) >= (msgs or 0)
    elif sys_ == "floor":
        fsyncs = c.get("fdatasyncs")
    latency = rec["workload"] in ("a", "b", "c")
    # Before the bench fix (elapsed read on a 100 ms progress tick) short runs were counted too
    # long: results from such a binary carry no "ack" field in its JSON.
    tick_bound = sys_ == "ironbus" and "ack" not in c and (c.get("elapsed_s") or 0) < 10
    return {
        "elapsed_s": c.get("elapsed_s"),
        "lower_bound": tick_bound,
        "msgs": msgs,
        "msgs_per_sec": c.get("msgs_per_sec"),
        "p50_us": p50 if latency else None,
        "p99_us": p99 if latency else None,
        "p999_us": p999 if latency else None,
        "peak_rss_mib": rss_kb / 1024 if isinstance(rss_kb, (int, float)) and rss_kb >= 0 else None,
        "cpu_s": cpu_s,
        "cpu_us_per_msg": cpu_s / msgs * 1e6 if cpu_s is not None and msgs else None,
        "write_bytes_per_msg": wb / msgs if wb is not None and wb >= 0 and msgs else None,
        "fdatasyncs_per_msg": fsyncs / msgs if fsyncs is not None and msgs else None,
        "mean_fdatasync_us": fsync_us,
        "acks_verified": committed,
    }


def median(values):
    vs = [v for v in values if v is not None]
    return statistics.median(vs) if vs else None


def fmt(v, digits=0):
    if v is None:
        return "–"
    if digits == 0:
        return f"{v:,.0f}"
    return f"{v:,.{digits}f}"


def ratio(x, y):
    return x / y if x is not None and y else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--from-json", help="re-render an earlier result file (its raw records, machine and params)")
    for a in ("--raw", "--configs", "--data-dir", "--ironbus", "--load", "--stamp"):
        ap.add_argument(a)
    for a in ("--out-md", "--out-json"):
        ap.add_argument(a, required=True)
    ap.add_argument("--reps", type=int)
    ap.add_argument("--duration", type=float)
    ap.add_argument("--drain-count", type=int)
    ap.add_argument("--quick", default="0")
    ap.add_argument("--failed", type=int, default=0)
    args = ap.parse_args()

    if args.from_json:
        old = json.load(open(args.from_json))
        raw, configs, mach, versions = old["raw"], old["configs"], old["machine"], old["versions"]
        p = old["params"]
        args.reps, args.duration, args.drain_count = p["repetitions"], p["duration_s"], p["drain_count"]
        args.quick, args.load, args.stamp = "1" if p["quick"] else "0", p["load_average"], old["stamp"]
        args.failed = old.get("failed_runs", 0)
    else:
        raw = [json.loads(line) for line in open(args.raw) if line.strip()]
        configs = {}
        for line in open(args.configs):
            if "\t" in line:
                k, v = line.rstrip("\n").split("\t", 1)
                configs[k] = v
        mach, versions = machine(args.data_dir, args.ironbus)

    groups = {}
    for rec in raw:
        key = (rec["size"], rec["workload"], rec["system"])
        groups.setdefault(key, []).append(rec)
    rows = []
    for (size, wl, sys_), recs in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1], list(SYSTEM_NAMES).index(kv[0][2]))):
        runs = [figures(r) for r in recs]
        ok = [r for r in runs if r]
        row = {
            "size": size,
            "workload": wl,
            "system": sys_,
            "label": recs[0].get("label"),
            "power_loss_safe": POWER_LOSS_SAFE[sys_],
            "runs": len(recs),
            "failed_runs": len(recs) - len(ok),
        }
        row["msgs_per_sec_lower_bound"] = any(r["lower_bound"] for r in ok)
        for k in ("msgs", "elapsed_s", "msgs_per_sec", "p50_us", "p99_us", "p999_us", "peak_rss_mib", "cpu_s", "cpu_us_per_msg",
                  "write_bytes_per_msg", "fdatasyncs_per_msg", "mean_fdatasync_us"):
            row[k] = median([r[k] for r in ok])
        verified = [r["acks_verified"] for r in ok if r["acks_verified"] is not None]
        if verified:
            # every acked drain must leave its group committed at the count it drained
            row["acks_verified"] = all(verified)
        rows.append(row)

    def get(size, wl, sys_, k):
        for r in rows:
            if r["size"] == size and r["workload"] == wl and r["system"] == sys_:
                return r[k]
        return None

    ratios = []
    for size in sorted({r["size"] for r in rows}):
        def add(wl, name, value):
            ratios.append({"size": size, "workload": wl, "ratio": name, "value": value})

        t = lambda wl, s: get(size, wl, s, "msgs_per_sec")
        add("a", "IronBus / floor 1-writer msgs/s", ratio(t("a", "ironbus"), t("a", "floor")))
        add("a", "IronBus / floor 1-writer p99", ratio(get(size, "a", "ironbus", "p99_us"), get(size, "a", "floor", "p99_us")))
        add("b", "IronBus / Redis msgs/s", ratio(t("b", "ironbus"), t("b", "redis")))
        add("b", "IronBus / ideal-16 msgs/s", ratio(t("b", "ironbus"), t("b", "floor")))
        add("c", "IronBus / Redis msgs/s", ratio(t("c", "ironbus"), t("c", "redis")))
        add("c", "IronBus / NATS-async msgs/s (NATS not power-loss safe)", ratio(t("c", "ironbus"), t("c", "nats")))
        add("d", "IronBus / Redis msgs/s", ratio(t("d", "ironbus"), t("d", "redis")))
        add("d", "IronBus / NATS msgs/s (NATS not power-loss safe)", ratio(t("d", "ironbus"), t("d", "nats")))
        add("e", "IronBus / NATS msgs/s (NATS not power-loss safe)", ratio(t("e", "ironbus"), t("e", "nats")))
        for wl in "abcde":
            peers = [get(size, wl, s, "peak_rss_mib") for s in ("redis", "nats")]
            peers = [p for p in peers if p]
            add(wl, "RSS IronBus / min(Redis, NATS)", ratio(get(size, wl, "ironbus", "peak_rss_mib"), min(peers) if peers else None))

    quick = args.quick == "1"
    params = {
        "repetitions": args.reps,
        "duration_s": args.duration,
        "drain_count": args.drain_count,
        "quick": quick,
        "producers_b": 16,
        "window_c": 256,
        "fetch_batch": 256,
        "payload": "random bytes (incompressible) of the given size; IronBus: --payload-shape random",
        "load_average": args.load,
    }
    doc = {
        "schema": "ironbus.bench.peers.v1",
        "stamp": args.stamp,
        "generated": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": mach,
        "versions": versions,
        "configs": configs,
        "params": params,
        "failed_runs": args.failed,
        "rows": rows,
        "ratios": ratios,
        "raw": raw,
    }
    with open(args.out_json, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")

    md = []
    md.append(f"# IronBus side by side: Redis Streams, NATS JetStream, the disk floor ({args.stamp})")
    md.append("")
    if quick:
        md.append("**QUICK=1 smoke run** (1 repetition, short runs, few stored messages): it proves the harness "
                  "works, the figures are not a measurement.")
        md.append("")
    md.append(f"Repetitions: {args.reps} (each figure is the median); runs of {args.duration:g} s for (a)-(c), "
              f"{args.drain_count:,} stored messages drained for (d)-(e); load average {args.load}. "
              f"Failed runs: {args.failed}.")
    md.append("")
    md.append("## Machine and versions")
    md.append("")
    md.append(f"- CPU: {mach['cpu_model']}, {mach['cores']} cores; RAM {mach['ram_gib']} GiB")
    md.append(f"- Kernel: {mach['kernel']} ({mach['os']})")
    md.append(f"- Data dirs: {mach['data_dir']} on {mach['data_dir_filesystem']} ({mach['data_dir_device']}, "
              f"mounted at {mach['data_dir_mount']}, {mach['data_dir_mount_options']})")
    md.append(f"- {versions['ironbus']} ({versions['ironbus_binary']}, {versions['ironbus_linkage']} binary, "
              f"built {versions['ironbus_binary_built']}; repository HEAD {versions['repo_head']})")
    md.append(f"- {versions['redis_server']}; {versions['nats_server']}; libhiredis {versions['libhiredis']}; "
              f"libnats {versions['libnats']}; clients built with {versions['cc']}")
    md.append("")
    for size in sorted({r["size"] for r in rows}):
        md.append(f"## Results, {size}-byte payloads")
        md.append("")
        md.append("| workload | system | how | msgs/s | p50 µs | p99 µs | p99.9 µs | broker peak RSS MiB | broker CPU s "
                  "| CPU µs/msg | bytes written/msg | fdatasyncs/msg | power-loss safe | runs |")
        md.append("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|")
        for r in rows:
            if r["size"] != size:
                continue
            name = FLOOR_NAMES.get(r["workload"], "floor") if r["system"] == "floor" else SYSTEM_NAMES[r["system"]]
            safe = "yes" if r["power_loss_safe"] else "**no (not power-loss safe)**"
            runs = f"{r['runs'] - r['failed_runs']}/{r['runs']}"
            mark = " †" if r.get("msgs_per_sec_lower_bound") and r["workload"] in ("d", "e") else ""
            md.append(f"| {WORKLOADS[r['workload']]} | {name} | {r['label']} | {fmt(r['msgs_per_sec'])}{mark} | "
                      f"{fmt(r['p50_us'])} | {fmt(r['p99_us'])} | {fmt(r['p999_us'])} | {fmt(r['peak_rss_mib'], 1)} | "
                      f"{fmt(r['cpu_s'], 2)} | {fmt(r['cpu_us_per_msg'], 1)} | {fmt(r['write_bytes_per_msg'])} | "
                      f"{fmt(r['fdatasyncs_per_msg'], 3)} | {safe} | {runs} |")
            if r.get("acks_verified") is False:
                md.append("| | | **the acks were not all committed after the drain** | | | | | | | | | | | |")
        md.append("")
        if any(r["size"] == size and r.get("msgs_per_sec_lower_bound") and r["workload"] in ("d", "e") for r in rows):
            md.append("† A lower bound: the drain took less than 10 s and `ironbus bench` rounds its elapsed time up to "
                      "its next 100 ms progress tick (a 20,000-message drain that ends within one tick reads 200,000 msgs/s "
                      "whatever its real speed).")
            md.append("")
        md.append(f"### Ratios, {size}-byte payloads")
        md.append("")
        md.append("| workload | ratio | value |")
        md.append("|---|---|---:|")
        for q in ratios:
            if q["size"] == size:
                md.append(f"| {q['workload']} | {q['ratio']} | {fmt(q['value'], 2)} |")
        md.append("")
    # the target ratios side by side, one row per payload size
    sizes = sorted({r["size"] for r in rows})
    cols = [
        ("a", "IronBus / floor 1-writer msgs/s", "(a) msgs/s vs floor-1"),
        ("a", "IronBus / floor 1-writer p99", "(a) p99 vs floor-1"),
        ("b", "IronBus / Redis msgs/s", "(b) vs Redis"),
        ("b", "IronBus / ideal-16 msgs/s", "(b) vs ideal-16"),
        ("c", "IronBus / Redis msgs/s", "(c) vs Redis"),
        ("c", "IronBus / NATS-async msgs/s (NATS not power-loss safe)", "(c) vs NATS-async"),
        ("d", "IronBus / Redis msgs/s", "(d) vs Redis"),
        ("d", "IronBus / NATS msgs/s (NATS not power-loss safe)", "(d) vs NATS"),
        ("e", "IronBus / NATS msgs/s (NATS not power-loss safe)", "(e) vs NATS"),
    ]
    if sizes:
        md.append("## Target ratios (IronBus / peer; medians)")
        md.append("")
        md.append("| payload | " + " | ".join(c[2] for c in cols) + " | RSS vs min(peers), worst workload |")
        md.append("|---" * (len(cols) + 2) + "|")
        for size in sizes:
            vals = []
            for wl, name, _ in cols:
                v = next((q["value"] for q in ratios if q["size"] == size and q["workload"] == wl and q["ratio"] == name), None)
                vals.append(fmt(v, 2))
            rss = [q["value"] for q in ratios if q["size"] == size and q["ratio"].startswith("RSS") and q["value"] is not None]
            md.append(f"| {size} B | " + " | ".join(vals) + f" | {fmt(max(rss) if rss else None, 2)} |")
        md.append("")
        md.append("NATS JetStream rows are not power-loss safe (acked before any fsync).")
        for size in sizes:
            q = next((q["value"] for q in ratios if q["size"] == size and q["ratio"] == "IronBus / floor 1-writer msgs/s"), None)
            if q is not None and q > 1.1:
                md.append("")
                md.append(f"**Check ({size} B):** IronBus (a) ran {q:.2f}x the 1-writer floor although both do one write "
                          "and one fdatasync per message (fdatasyncs/msg above): the floor runs were disturbed (other "
                          "I/O on the filesystem, e.g. other builds or the discards of deleted files) and (a)'s floor "
                          "ratio is not meaningful for this run.")
        md.append("")
    md.append("## Configurations")
    md.append("")
    for k in ("ironbus", "ironbus-materialized", "redis", "nats"):
        if k in configs:
            md.append(f"- {k}: `{configs[k]}`")
    md.append("- IronBus client: `ironbus bench --addr 127.0.0.1:<port> --i-understand-this-is-live --json "
              "--payload-shape random --size <B>` with `--mode publish` [`--producers 16` | `--pubwindow 256`] "
              "`--duration`, or after a `--pubwindow 256 --count N` prefill `--mode subscribe --fetch-batch 256 --count N` "
              "with `--group drain` (d) or `--group bcast` (e, declared `--broadcast-group bcast`)")
    md.append("- Redis client: bench/peers/redis_bench.c (hiredis); NATS client: bench/peers/nats_bench.c (libnats); "
              "floor: bench/peers/disk_floor.c (file preallocated with a keep-size fallocate of 64 MiB, like an IronBus "
              "segment; the group-commit writers hand records to one flusher thread: one write + one fdatasync per batch)")
    md.append("")
    md.append("## How to read it")
    md.append("")
    md.append("- Latency: send to ack of each message; in (c) every system keeps 256 in flight (sliding): IronBus "
              "`--pubwindow 256`, Redis 256 XADDs, NATS MaxPending 256.")
    md.append("- Broker figures come from /proc/<pid> of the server: peak RSS = VmHWM over the server's life (it includes "
              "the prefill of (d)/(e)), CPU = utime+stime delta over the measured run, bytes written = write_bytes delta "
              "over the measured run / messages. The floor's are those of its own process.")
    md.append("- fdatasyncs/msg: IronBus from its /metrics (ironbus_fsyncs_total, delta over the run: the log "
              "appender's syncs only); the floor counts its own; Redis and NATS do not export one. In the drains IronBus's "
              "acks move the group cursor, which goes to a checkpoint file (fsynced) every checkpoint_interval (1024) "
              "records and is not in that counter; Redis fsyncs its AOF after each batch of XACKs.")
    md.append("- Each acked drain is checked afterwards: IronBus's group committed offset (/metrics) reaches the count "
              "drained, Redis's XPENDING is 0, NATS's consumer has no ack pending and its ack floor at the last message.")
    md.append("- Redis keeps the stream in memory (RSS grows with the messages held); NATS JetStream acks before any "
              "fsync (not power-loss safe); natsMsg_Ack does not wait for the server.")
    md.append("- (e) Redis: XREAD without a group has no acks at all.")
    md.append("")
    with open(args.out_md, "w") as f:
        f.write("\n".join(md))


if __name__ == "__main__":
    main()
