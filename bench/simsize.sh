#!/usr/bin/env bash
# simsize.sh: BenchmarkSimSize of two or more revisions, interleaved, for
# a comparison that the machine's drift does not decide.
#
# A 1,000-instance world's cost per call moves by several percent from one
# hour to the next on a shared machine, and a ratio to the 10-instance
# world moves with it. So each round runs every revision's test binary
# once, in an order that rotates from round to round, and the figures
# compared are medians over the same rounds.
#
#	bash bench/simsize.sh HEAD~3 HEAD            # 20 rounds (ROUNDS=...)
#	bash bench/simsize.sh 451afb2 .              # . is the working tree
#
# Per revision it prints the median ns per call at 10, 100 and 1,000
# instances, the ratios of those medians (100 and 1,000 against 10), the
# median of the runs' own x-vs-10 and the ratio of the medians of the
# steady cost per call. About 12 s a round per revision on 2 cores.
set -euo pipefail

rounds="${ROUNDS:-20}"
[ "$#" -ge 2 ] || { echo "usage: bash bench/simsize.sh REV REV... (. for the working tree)" >&2; exit 2; }
repo="$(cd "$(dirname "$0")/.." && pwd)"
tmp="$(mktemp -d)"
trap 'for w in "$tmp"/wt-*; do [ -d "$w" ] && git -C "$repo" worktree remove --force "$w"; done; rm -rf "$tmp"' EXIT

bins=()
for i in $(seq 0 $(($# - 1))); do
	rev="${@:$((i + 1)):1}"
	bin="$tmp/bench-$i.test"
	if [ "$rev" = . ]; then
		(cd "$repo" && go test -c -o "$bin" ./bench/)
	else
		git -C "$repo" worktree add --quiet --detach "$tmp/wt-$i" "$rev"
		(cd "$tmp/wt-$i" && go test -c -o "$bin" ./bench/)
	fi
	bins+=("$bin")
	: >"$tmp/runs-$i"
done

n=${#bins[@]}
for r in $(seq "$rounds"); do
	for j in $(seq 0 $((n - 1))); do
		k=$(((r + j) % n))
		(cd "$repo/bench" && "${bins[$k]}" -test.run '^$' -test.bench 'BenchmarkSimSize$' -test.benchtime 1x) |
			grep '^BenchmarkSimSize/instances=' >>"$tmp/runs-$k"
	done
done

# median FILE: the median of the numbers in FILE, one per line.
median() { sort -g "$1" | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# metric SIZE UNIT RUNS: the values of UNIT in the runs of SIZE instances.
metric() {
	awk -v size="instances=$1" -v unit="$2" 'index($1, size "-") || $1 ~ size "$" {
		for (i = 3; i <= NF; i++) if ($i == unit) print $(i - 1) }' "$3"
}

printf '%-10s %26s %10s %11s %15s %13s\n' revision 'ns/call 10 / 100 / 1,000' '100 vs 10' '1,000 vs 10' 'median x-vs-10' 'steady 1,000'
for i in $(seq 0 $((n - 1))); do
	runs="$tmp/runs-$i"
	for size in 10 100 1000; do
		metric "$size" ns/call "$runs" >"$tmp/v"
		eval "ns$size=$(median "$tmp/v")"
		metric "$size" steady-ns/call "$runs" >"$tmp/v"
		eval "st$size=$(median "$tmp/v")"
	done
	metric 1000 x-vs-10 "$runs" >"$tmp/v"
	mx=$(median "$tmp/v")
	awk -v rev="${@:$((i + 1)):1}" -v a="$ns10" -v b="$ns100" -v c="$ns1000" -v s1="$st10" -v s3="$st1000" -v mx="$mx" 'BEGIN {
		printf "%-10s %8.0f / %5.0f / %5.0f %9.3fx %10.3fx %14.3fx %12.3fx\n", rev, a, b, c, b / a, c / a, mx, s3 / s1 }'
done
echo "($rounds rounds)"
