#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs the read benchmark (scripts/bench/read.sh), the write benchmark (scripts/bench/write.sh)
# and the hf-hubd serving benchmark (scripts/bench/hubd-serve.sh), then writes docs/BENCHMARKS.md
# (machine, date, the tables) and docs/bench-read.png (gnuplot: throughput per scenario, hf-mount
# vs its references; reads, random preads and writes).
#
# Env: everything read.sh, write.sh and hubd-serve.sh take (BENCH_SIZE_MB, BENCH_RUNS, ...), plus
#      BENCH_SKIP_WRITE=1 to leave out write.sh and BENCH_SKIP_HUBD_SERVE=1 to leave out
#      hubd-serve.sh.
# Needs root (for read.sh and write.sh) and gnuplot (Debian: gnuplot-nox, in
# scripts/install-deps.sh).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$here/../.." && pwd)"
docs="$repo_root/docs"
command -v gnuplot >/dev/null || { echo "error: gnuplot is required (apt-get install gnuplot-nox)" >&2; exit 2; }

tmp="$(mktemp -d "${TMPDIR:-/tmp}/hfm-bench-report.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

# ---- Machine ------------------------------------------------------------------------------------
cpu="$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
[[ -n "$cpu" ]] || cpu="$(lscpu 2>/dev/null | sed -n 's/^Model name:[[:space:]]*//p' | head -n 1)"
mem="$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
# shellcheck disable=SC1091
machine="$(nproc) cores ($cpu), $mem RAM, kernel $(uname -r), $(. /etc/os-release && echo "$PRETTY_NAME")"
fs_type="$(df --output=fstype "${BENCH_TMP:-/tmp}" | tail -n 1)"
started="$(date -u '+%Y-%m-%d %H:%M UTC')"
load_before="$(cut -d' ' -f1-3 /proc/loadavg)"

# ---- Runs ---------------------------------------------------------------------------------------
echo "report: running read.sh (several minutes)" >&2
BENCH_OUT="$tmp/read.json" "$here/read.sh" >"$tmp/read.md"
write_md=""
if [[ "${BENCH_SKIP_WRITE:-0}" != 1 ]]; then
  echo "report: running write.sh (several minutes)" >&2
  BENCH_OUT="$tmp/write.json" "$here/write.sh" >"$tmp/write.md"
  write_md="$(cat "$tmp/write.md")"
fi
hubd_txt=""
if [[ "${BENCH_SKIP_HUBD_SERVE:-0}" != 1 ]]; then
  echo "report: running hubd-serve.sh" >&2
  "$here/hubd-serve.sh" >"$tmp/hubd.txt"
  hubd_txt="$(cat "$tmp/hubd.txt")"
fi
load_after="$(cut -d' ' -f1-3 /proc/loadavg)"

# ---- Chart --------------------------------------------------------------------------------------
python3 - "$tmp/read.json" "$tmp/gbps.dat" "$tmp/ops.dat" "$tmp/write.json" "$tmp/write.dat" <<'EOF'
import json, os, sys
d = json.load(open(sys.argv[1]))
med = {(r["scenario"], r["subject"], r["metric"]): r["median"] for r in d["results"]}
def val(scen, subj, metric):
    v = med.get((scen, subj, metric))
    return "-" if v is None else f"{v:.4f}"
scen = sorted({r["scenario"] for r in d["results"]})
def pick(prefix):
    return next((s for s in scen if s.startswith(prefix)), None)
gb_rows = [("a. cold", pick("a. "), "read"),
           ("b. warm", pick("b. warm"), "read"),
           ("b. hot", pick("b. hot"), "read"),
           (f"f. {d['meta']['readers']} readers", next((s for s in scen if s.startswith("f. ") and "readers" in s), None), "read (aggregate)")]
with open(sys.argv[2], "w") as f:
    f.write("scenario\thf-mount\tcurl\tpassthrough_ll\tlocal\n")
    for label, s, m in gb_rows:
        f.write(f"\"{label}\"\t" + "\t".join(val(s, x, m) for x in
                ("hf-mount", "curl", "passthrough_ll", "local")) + "\n")
with open(sys.argv[3], "w") as f:
    f.write("scenario\thf-mount\tlocal\tranged-GETs\n")
    for label, s in (("d. cold", pick("d. random 4K pread cold")), ("d. warm", pick("d. random 4K pread warm"))):
        f.write(f"\"{label}\"\t" + "\t".join(val(s, x, "preads") for x in
                ("hf-mount", "local", "ranged GETs (1 conn)")) + "\n")
if os.path.exists(sys.argv[4]):
    w = json.load(open(sys.argv[4]))
    med = {(r["scenario"], r["subject"], r["metric"]): r["median"] for r in w["results"]}
    wscen = sorted({r["scenario"] for r in w["results"]})
    s1 = next((s for s in wscen if s.startswith("1. ")), None)
    s2 = next((s for s in wscen if s.startswith("2. ")), None)
    # One column per subject: the upload reference is curl -T, the cp references the rest.
    cols = ("hf-mount", "curl -T", "passthrough_ll", "local", "local (cp && sync)")
    with open(sys.argv[5], "w") as f:
        f.write("scenario\t" + "\t".join(cols) + "\n")
        for label, s, m in (("1. fsync (commit)", s1, "upload"), ("2. cp", s2, "cp")):
            f.write(f"\"{label}\"\t" + "\t".join(val(s, x, m) for x in cols) + "\n")
EOF
panels=2
[[ -f "$tmp/write.dat" ]] && panels=3
cat >"$tmp/chart.gp" <<EOF
set terminal pngcairo size $((600 * panels)),520 font "sans,10" noenhanced
set output "$docs/bench-read.png"
set datafile separator "\t"
set datafile missing "-"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set key top left
set grid ytics
set multiplot layout 1,$panels title "hf-mount vs references (medians; ${BENCH_SIZE_MB:-1024} MiB file; $(nproc) cores; $started)"
set title "sequential throughput"
set ylabel "GB/s (1e9 bytes/s)"
set yrange [0:*]
plot "$tmp/gbps.dat" using 2:xtic(1) title columnhead(2) lc rgb "#d62728", \
     "" using 3 title columnhead(3) lc rgb "#1f77b4", \
     "" using 4 title columnhead(4) lc rgb "#2ca02c", \
     "" using 5 title columnhead(5) lc rgb "#7f7f7f"
set title "random 4 KiB preads"
set ylabel "ops/s (log scale)"
set logscale y
set yrange [10:*]
plot "$tmp/ops.dat" using 2:xtic(1) title columnhead(2) lc rgb "#d62728", \
     "" using 3 title columnhead(3) lc rgb "#7f7f7f", \
     "" using 4 title columnhead(4) lc rgb "#9467bd"
EOF
if [[ -f "$tmp/write.dat" ]]; then
  cat >>"$tmp/chart.gp" <<EOF
set title "writes (${BENCH_WRITE_SIZE_MB:-${BENCH_SIZE_MB:-1024}} MiB file)"
set ylabel "MB/s (1e6 bytes/s)"
unset logscale y
set yrange [0:*]
plot "$tmp/write.dat" using 2:xtic(1) title columnhead(2) lc rgb "#d62728", \\
     "" using 3 title columnhead(3) lc rgb "#1f77b4", \\
     "" using 4 title columnhead(4) lc rgb "#2ca02c", \\
     "" using 5 title columnhead(5) lc rgb "#7f7f7f", \\
     "" using 6 title columnhead(6) lc rgb "#bcbd22"
EOF
fi
echo "unset multiplot" >>"$tmp/chart.gp"
gnuplot "$tmp/chart.gp"

# ---- BENCHMARKS.md ------------------------------------------------------------------------------
{
  echo "# Benchmarks"
  echo
  echo "Generated by \`scripts/bench/report.sh\` — do not edit by hand; rerun it instead."
  echo
  echo "- Date: $started"
  echo "- Machine: $machine"
  echo "- Benchmark temp dirs on: $fs_type (\`${BENCH_TMP:-/tmp}\`)"
  echo "- Load average (1/5/15 min): $load_before before, $load_after after"
  echo "- Commit: $(git -C "$repo_root" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$repo_root" diff --quiet 2>/dev/null || echo ' (with uncommitted changes)')"
  echo
  echo "Method and targets: DESIGN.md §5 and §10 — every ratio is"
  echo "against references measured in the same run; \"warm\" = from hf-mount's disk cache after a"
  echo "remount with the page cache dropped, \"hot\" = a re-read served by the page cache;"
  echo "writes are staged locally and committed to the Hub (hf-hubd) as one commit (DESIGN.md §6)."
  echo
  echo "## Reads through the mount (\`scripts/bench/read.sh\`)"
  echo
  echo "![throughput per scenario](bench-read.png)"
  echo
  cat "$tmp/read.md"
  echo
  if [[ -n "$write_md" ]]; then
    echo "## Writes through the mount (\`scripts/bench/write.sh\`)"
    echo
    echo "Write throughput bars: the right-hand panel of the chart above."
    echo
    echo "$write_md"
    echo
  fi
  if [[ -n "$hubd_txt" ]]; then
    echo "## hf-hubd CDN serving vs nginx (\`scripts/bench/hubd-serve.sh\`)"
    echo
    echo '```'
    echo "$hubd_txt"
    echo '```'
    echo
  fi
  echo "## Reproduce"
  echo
  echo '```'
  echo "sudo scripts/install-deps.sh && ninja -C build hf-mount hf-hubd"
  echo "sudo scripts/bench/report.sh          # or scripts/bench/read.sh / write.sh alone; BENCH_RUNS, BENCH_SIZE_MB, ..."
  echo '```'
} >"$docs/BENCHMARKS.md"
echo "report: wrote $docs/BENCHMARKS.md and $docs/bench-read.png" >&2
cat "$tmp/read.md"
[[ -z "$write_md" ]] || { echo; echo "$write_md"; }
