#!/usr/bin/env bash
# cachemiss.sh: what a call of a 1,000-instance world costs that one of a
# 10-instance world does not, counted by a cache simulator rather than
# timed, so that a change of a few percent shows above the machine's noise.
#
# It runs BenchmarkSimSize/instances=10 and /instances=1000 (each a
# 10-second and a one-minute world at 1,000 calls/s: 70,000 calls, the
# worlds built and torn down included) under valgrind's cachegrind, on one
# processor (GOMAXPROCS=1, so the collector's work is counted with the
# rest), with a last-level cache of LL bytes (default 2 MiB: a core's L2
# on the machines this was tuned on). It prints, per call, the
# instructions and the last-level misses (data reads and writes) of each
# function in the 1,000-instance world less those in the 10-instance one,
# largest first, and the totals. A miss is a fetch from beyond the LL
# cache (tens of ns); in a world of many instances they come from the
# state of an instance (its connection, server, node...) that the call
# touches once a second, by when the CPU has evicted it.
#
#	bash bench/cachemiss.sh              # top 40 functions by extra misses
#	TOP=80 SORT=ir bash bench/cachemiss.sh   # by extra instructions
#	LL=4194304 bash bench/cachemiss.sh   # a 4 MiB last-level cache
#
# Needs valgrind (apt-get install valgrind); each world takes about a
# minute under it.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
top="${TOP:-40}"
sort="${SORT:-ll}"
ll="${LL:-2097152}"
calls=70000 # BenchmarkSimSize: 10 s + 60 s at 1,000 calls/s

command -v valgrind >/dev/null || { echo "cachemiss.sh: needs valgrind (apt-get install valgrind)" >&2; exit 2; }
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

(cd "$here/.." && go test -c -o "$tmp/bench.test" ./bench/)
for n in 10 1000; do
	(cd "$here" && GOMAXPROCS=1 valgrind --tool=cachegrind --cache-sim=yes --LL="$ll,16,64" \
		--cachegrind-out-file="$tmp/cg-$n.out" "$tmp/bench.test" -test.run '^$' \
		-test.bench "BenchmarkSimSize/instances=$n\$" -test.benchtime 1x >"$tmp/run-$n.log" 2>&1) ||
		{ cat "$tmp/run-$n.log" >&2; exit 1; }
	# Per function: instructions and last-level data misses (reads + writes).
	cg_annotate --auto=no --threshold=0 --show-percs=no --show=Ir,DLmr,DLmw "$tmp/cg-$n.out" |
		awk '/^Ir .*file:function/ { on = 1; next }
			on && NF >= 4 && $1 ~ /^[0-9,]+$/ {
				ir = $1; r = $2; w = $3; gsub(",", "", ir); gsub(",", "", r); gsub(",", "", w)
				if (r == ".") r = 0; if (w == ".") w = 0
				name = $4; sub(/^[^:]*:/, "", name); gsub(/\[go\.shape[^]]*\]/, "[...]", name)
				ir_[name] += ir; ll_[name] += r + w
			}
			END { for (k in ir_) printf "%s\t%d\t%d\n", k, ir_[k], ll_[k] }' >"$tmp/fn-$n.tsv"
done

awk -F'\t' -v calls="$calls" -v sortby="$sort" '
	FNR == NR { ir10[$1] = $2; ll10[$1] = $3; seen[$1] = 1; next }
	{ ir1k[$1] = $2; ll1k[$1] = $3; seen[$1] = 1 }
	END {
		for (k in seen) {
			dir = (ir1k[k] - ir10[k]) / calls; dll = (ll1k[k] - ll10[k]) / calls
			tir += dir; tll += dll
			printf "%10.1f %9.0f %9.0f %9.0f  %s\n", dll, dir, ir10[k] / calls, ir1k[k] / calls, k | \
				(sortby == "ir" ? "sort -k2,2nr" : "sort -k1,1nr")
		}
		close(sortby == "ir" ? "sort -k2,2nr" : "sort -k1,1nr")
		printf "total: %.1f misses and %.0f instructions more per call\n", tll, tir > "/dev/stderr"
	}' "$tmp/fn-10.tsv" "$tmp/fn-1000.tsv" >"$tmp/diff.txt" 2>"$tmp/total.txt"

echo "Per call, 1,000 instances less 10 ($calls calls each, LL $ll bytes):"
printf "%10s %9s %9s %9s  %s\n" "d-misses" "d-instr" "instr@10" "instr@1k" "function"
head -n "$top" "$tmp/diff.txt"
cat "$tmp/total.txt"
