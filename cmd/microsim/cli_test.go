package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"
)

func TestServices(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		r := w.run(t, "", "services")
		require.Equal(t, 0, r.code, r.stderr)
		require.Equal(t, "SERVICE  VERSIONS  NODES  ENDPOINTS\ngreeter  1.2       2      2\n", r.stdout)

		r = w.run(t, "", "services", "-o", "json")
		require.Equal(t, 0, r.code, r.stderr)
		var sums []serviceSummary
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &sums))
		require.Equal(t, []serviceSummary{{Name: "greeter", Versions: []string{"1.2"}, Nodes: 2, Endpoints: 2}}, sums)
	})
}

func TestDescribe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		r := w.run(t, "", "describe", "greeter")
		require.Equal(t, 0, r.code, r.stderr)
		for _, want := range []string{
			"SERVICE greeter", "VERSION 1.2", "greeter-node-1:49152  node-1:49152  zone=z-node-1",
			"  Greeter.Hello\n    request   main.HelloRequest {\"name\": string, \"sleep\": string}\n",
			"    response  main.HelloReply {\"message\": string, \"user\": string}\n",
			"    example   microsim call greeter Greeter.Hello '{\"name\": \"\", \"sleep\": \"\"}'\n",
			"  Greeter.Upper (stream)\n",
		} {
			require.Contains(t, r.stdout, want)
		}
		r = w.run(t, "", "describe", "greeter", "--output", "json")
		require.Equal(t, 0, r.code, r.stderr)
		require.Contains(t, r.stdout, `"request_shape": {`)

		r = w.run(t, "", "describe", "greter")
		require.Equal(t, exitNotFound, r.code)
		require.Equal(t, "microsim: service \"greter\" is not registered; did you mean greeter?\n"+
			"  hint: run 'microsim services' to list what is registered\n", r.stderr)
	})
}

func TestCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		r := w.run(t, "", "call", "greeter", "Greeter.Hello", `{"name": "ana"}`)
		require.Equal(t, 0, r.code, r.stderr)
		require.Equal(t, "{\n  \"message\": \"Hello, ana\"\n}\n", r.stdout)

		for _, args := range [][]string{{"call", "greeter", "hello"}, {"call", "greeter", "hello", "-"}} {
			r = w.run(t, `{"name": "stdin"}`, args...)
			require.Equal(t, 0, r.code, r.stderr)
			require.Contains(t, r.stdout, `"Hello, stdin"`)
		}

		r = w.run(t, "", "call", "greeter", "hello", `{"name": "bo"}`, "-m", "X-User=bo", "-o", "json")
		require.Equal(t, 0, r.code, r.stderr)
		var res callResult
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &res))
		require.Equal(t, "Greeter.Hello", res.Endpoint)
		require.JSONEq(t, `{"message": "Hello, bo", "user": "bo"}`, string(res.Response))
		require.GreaterOrEqual(t, res.LatencyMS, 0.0)

		r = w.run(t, "", "call", "greeter", "hello", `{"name": "ana",}`)
		require.Equal(t, exitUsage, r.code)
		require.Contains(t, r.stderr, "the JSON argument: invalid JSON at line 1, column 16")
		require.Contains(t, r.stderr, "hint: fix the JSON")

		r = w.run(t, "{\n  \"name\": 'x'\n}", "call", "greeter", "hello")
		require.Equal(t, exitUsage, r.code)
		require.Contains(t, r.stderr, "stdin: invalid JSON at line 2, column 11")

		r = w.run(t, "", "call", "greeter", "hello")
		require.Equal(t, exitUsage, r.code)
		require.Contains(t, r.stderr, "no request on stdin")

		r = w.run(t, "", "call", "greeter", "helo", `{}`)
		require.Equal(t, exitNotFound, r.code)
		require.Contains(t, r.stderr, `service "greeter" has no endpoint "helo"; it serves Greeter.Hello, Greeter.Upper`)
		require.Contains(t, r.stderr, "hint: run 'microsim describe greeter'")

		r = w.run(t, "", "call", "greeter", "hello", `{}`)
		require.Equal(t, exitFailed, r.code)
		require.Contains(t, r.stderr, "name is required")
		require.Contains(t, r.stderr, `hint: Greeter.Hello takes {"name": string, "sleep": string} (microsim describe greeter)`)

		start := time.Now()
		r = w.run(t, "", "call", "greeter", "hello", `{"name": "x", "sleep": "5s"}`, "--timeout", "300ms")
		require.Equal(t, exitUnavailable, r.code, r.stderr)
		require.Equal(t, 300*time.Millisecond, time.Since(start))
		require.Contains(t, r.stderr, "deadline_exceeded")

		r = w.run(t, "", "call", "greeter", "hello", `{}`, "-m", "nokey")
		require.Equal(t, exitUsage, r.code)
		require.Contains(t, r.stderr, `--metadata "nokey": give KEY=VALUE`)
	})
}

func TestStream(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		r := w.run(t, "{\"name\": \"a\"}\n\n{\"name\": \"bc\"}\n", "stream", "greeter", "upper")
		require.Equal(t, 0, r.code, r.stderr)
		require.Equal(t, "{\"message\":\"A\"}\n{\"message\":\"BC\"}\n", r.stdout)

		r = w.run(t, "{\"name\": \"a\"}\n{oops}\n", "stream", "greeter", "Greeter.Upper")
		require.Equal(t, exitUsage, r.code, r.stderr)
		require.Contains(t, r.stderr, "stdin line 2: invalid JSON at line 1, column 2")
	})
}

func TestPublishSubscribe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		subscribed := make(chan string, 1)
		done := make(chan result, 1)
		go func() {
			done <- w.runCtx(t.Context(), t, "", func(topic string) { subscribed <- topic }, "subscribe", "orders", "-n", "2", "-o", "json")
		}()
		require.Equal(t, "orders", <-subscribed)
		for _, ev := range []string{`{"id": 1}`, `{"id": 2}`, `{"id": 3}`} {
			r := w.run(t, "", "publish", "orders", ev)
			require.Equal(t, 0, r.code, r.stderr)
			require.Equal(t, "published to orders\n", r.stdout)
		}
		r := <-done
		require.Equal(t, 0, r.code, r.stderr)
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		require.Len(t, lines, 2, "--count 2 stops after two events")
		var ev event
		require.NoError(t, json.Unmarshal([]byte(lines[1]), &ev))
		require.Equal(t, "orders", ev.Topic)
		require.JSONEq(t, `{"id": 2}`, string(ev.Body))

		start := time.Now()
		r = w.run(t, "", "subscribe", "quiet", "--for", "2s")
		require.Equal(t, 0, r.code, r.stderr)
		require.Equal(t, 2*time.Second, time.Since(start))

		r = w.run(t, "", "publish", "bad topic", `{}`)
		require.Equal(t, exitUsage, r.code)
		require.Contains(t, r.stderr, `topic "bad topic"`)
	})
}

func TestHealth(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		r := w.run(t, "", "health", "greeter", "-o", "json")
		require.Equal(t, 0, r.code, r.stderr)
		var hs []nodeHealth
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &hs))
		require.Len(t, hs, 2)
		for _, h := range hs {
			require.True(t, h.Reachable, "%+v", h)
		}

		w.net.Host("node-2").Crash() // registered until its TTL, but gone
		r = w.run(t, "", "health", "greeter")
		require.Equal(t, exitFailed, r.code, r.stdout)
		require.Contains(t, r.stdout, "greeter-node-1:49152  node-1:49152  1.2      yes")
		require.Contains(t, r.stdout, "greeter-node-2:49152  node-2:49152  1.2      NO: ")
		require.Contains(t, r.stderr, "1 of 2 nodes of greeter do not answer")
	})
}

func TestUsageErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		for _, c := range []struct {
			args []string
			want string
		}{
			{[]string{"nope"}, `unknown command "nope"`},
			{[]string{"services", "--bogus"}, "unknown flag: --bogus"},
			{[]string{"describe"}, "accepts 1 arg(s)"},
			{[]string{"services", "-o", "yaml"}, `--output "yaml": use table or json`},
			{[]string{"services", "--registry", "etcd"}, `--registry "etcd": use consul or memory`},
			{[]string{"services", "--timeout", "0s"}, "--timeout 0s: give a positive duration"},
		} {
			r := w.run(t, "", c.args...)
			require.Equal(t, exitUsage, r.code, "%v: %s", c.args, r.stderr)
			require.Contains(t, r.stderr, c.want, c.args)
		}
	})
}

func TestCompletion(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		r := w.run(t, "", "completion", "bash")
		require.Equal(t, 0, r.code, r.stderr)
		require.Contains(t, r.stdout, "__start_microsim")
		r = w.run(t, "", "__complete", "describe", "")
		require.Equal(t, 0, r.code, r.stderr)
		require.True(t, strings.HasPrefix(r.stdout, "greeter\n:4\n"), r.stdout)
		r = w.run(t, "", "__complete", "services", "-o", "")
		require.True(t, strings.HasPrefix(r.stdout, "table\njson\n"), r.stdout)
	})
}

func TestRegistryUnreachable(t *testing.T) {
	var out, errb strings.Builder
	a := &app{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, connect: connect, getenv: func(string) string { return "" }}
	code := execute(context.Background(), a, []string{"services", "--consul", "127.0.0.1:1", "--timeout", "5s"})
	require.Equal(t, exitUnavailable, code, errb.String())
	require.Contains(t, errb.String(), "hint: start Consul at 127.0.0.1:1 or point --consul (or CONSUL_HTTP_ADDR) at it")
}
