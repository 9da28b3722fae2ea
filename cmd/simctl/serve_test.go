package main

import (
	"bufio"
	"io"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/sim"
)

const served = `name: served
duration: 2s
topology:
  services:
    - name: greeter
      instances: 2
      endpoints: [{name: Greeter.Hello, latency: 5ms}]
workloads:
  - {service: greeter, endpoint: Greeter.Hello, rate: 20}
assertions:
  - success_rate: {min: 1}
`

// simctl serve: curl calls into a simulated world through the gateway on
// 127.0.0.1 while the scenario runs, in real time.
func TestServe(t *testing.T) {
	curl, err := exec.LookPath("curl")
	require.NoError(t, err, "the test calls the gateway with curl")
	file := writeFile(t, "served.yaml", served)
	errR, errW := io.Pipe()
	var out strings.Builder
	done := make(chan int)
	go func() {
		defer errW.Close()
		done <- execute([]string{"serve", "--http", "127.0.0.1:0", file}, &out, errW, sim.TestRunner(t))
	}()
	lines := bufio.NewScanner(errR)
	require.True(t, lines.Scan(), "simctl says where it serves")
	m := regexp.MustCompile(`serving served on (http://127\.0\.0\.1:\d+) for 2s \(real time\)`).FindStringSubmatch(lines.Text())
	require.NotNil(t, m, lines.Text())
	body, err := exec.Command(curl, "-s", "-S", "--max-time", "5", "-X", "POST", "-H", "Content-Type: application/json",
		"-d", `{"name": "curl"}`, "-w", " %{http_code}", m[1]+"/greeter/hello").CombinedOutput()
	require.NoError(t, err, "%s", body)
	assert.Equal(t, "{}\n 200", strings.TrimSpace(string(body)), "the reply, then the status")
	go func() { _, _ = io.Copy(io.Discard, errR) }()
	assert.Equal(t, 0, <-done)
	assert.True(t, strings.HasPrefix(out.String(), "PASS  served"), out.String())
}
