#!/usr/bin/env python3
"""Prints a few series of an IronBus /metrics page (127.0.0.1:<port>) as one JSON object:
fsyncs, produced and acks totals, and the committed offset of every group. run.sh reads them
before and after a measured run (outside the timed part) to check that a drain's acks were
committed and to count the fdatasyncs per message."""
import json
import sys
import urllib.request

WANTED = ("ironbus_fsyncs_total", "ironbus_produced_total", "ironbus_acks_total", "ironbus_group_committed_offset",
          "ironbus_fsync_duration_seconds_sum", "ironbus_fsync_duration_seconds_count")


def main():
    port = int(sys.argv[1])
    out = {}
    try:
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    except Exception as e:  # reported, not fatal: the run itself is still valid
        print(json.dumps({"error": str(e)}))
        return
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name_labels, _, value = line.rpartition(" ")
        name = name_labels.split("{", 1)[0]
        if name in WANTED:
            try:
                out[name_labels] = float(value)
            except ValueError:
                pass
    print(json.dumps(out, sort_keys=True))


if __name__ == "__main__":
    main()
