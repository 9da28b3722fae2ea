#!/usr/bin/env bash
# run.sh: microsim's 1 KiB unary echo against its peers (bench/peers): grpc-go,
# net/rpc, go-micro v5 and a raw TCP ping-pong over 127.0.0.1, and microsim's
# memory transport against grpc-go over bufconn; concurrency 1 and 64.
#
# It builds the peers' test binary once and runs every benchmark COUNT times,
# round after round, so that each peer is measured in every round and a
# change in the machine's load hits them all alike. Then it prints, through
# benchstat (pinned in bench/peers/go.mod as a tool), the medians of calls/s,
# CPU, context switches and allocations per call, and the ratios microsim/peer with the
# issue's targets.
#
#	bash bench/run.sh            # COUNT=6 rounds of 1s per benchmark
#	COUNT=10 BENCHTIME=2s bash bench/run.sh
#	OUT=results.txt bash bench/run.sh   # keep the raw results
#
# Variables: COUNT (rounds, default 6), BENCHTIME (per benchmark and round,
# default 1s), BENCH (benchmark regexp, default .), OUT (raw results file,
# default a temporary file).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
count="${COUNT:-6}"
benchtime="${BENCHTIME:-1s}"
bench="${BENCH:-.}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
out="${OUT:-$tmp/peers.txt}"

cd "$here/peers"
go test -c -o "$tmp/peers.test" .

cpu="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
echo "machine: $(nproc) CPUs, ${cpu:-unknown CPU}; $(go version)"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
: >"$out"
for i in $(seq "$count"); do
	echo "round $i/$count (load $(cut -d' ' -f1 /proc/loadavg))" >&2
	# go-micro logs a TLS warning on stderr; the results are on stdout.
	"$tmp/peers.test" -test.run '^$' -test.bench "$bench" -test.benchtime "$benchtime" 2>/dev/null >>"$out"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
if grep -q -- '--- FAIL' "$out"; then
	grep -B2 -A5 -- '--- FAIL' "$out" >&2
	echo "run.sh: a benchmark failed" >&2
	exit 1
fi

echo
go tool benchstat -col /peer -filter '.unit:(calls/s OR cpu-ns/op OR ctxsw/op OR allocs/op)' "$out"

echo
echo "Ratios microsim / peer (medians of calls/s), against the targets:"
go tool benchstat -format csv -col /peer -filter '.unit:calls/s' "$out" 2>/dev/null | awk -F, '
	# The first CSV line that starts with a comma names the peers: microsim in
	# column 2, then each peer in the first of its four columns.
	!names && /^,/ { for (i = 2; i <= NF; i++) if ($i != "") peer[i] = $i; names = 1; next }
	/^Echo\// {
		row = $1; sub(/-[0-9]+$/, "", row)
		base = $2 + 0
		for (i = 3; i <= NF; i++) {
			if (!(i in peer) || $i == "" || $i + 0 == 0) continue
			p = peer[i]; ratio = base / ($i + 0)
			want = 0
			if (row ~ /net=tcp/ && p == "grpc") want = 2
			if (row ~ /net=tcp/ && p == "netrpc") want = 1.2
			if (row ~ /net=tcp/ && p == "gomicro") want = 5
			if (row ~ /net=mem/ && p == "grpc") want = 4
			verdict = want ? (ratio >= want ? sprintf("holds (target >= %.1fx)", want) : sprintf("MISSES (target >= %.1fx)", want)) : "(reference, no target)"
			printf "  %-22s %-11s %10.0f / %10.0f calls/s = %6.3fx  %s\n", row, p, base, $i + 0, ratio, verdict
		}
	}'
