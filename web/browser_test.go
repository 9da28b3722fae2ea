package web_test

import (
	"context"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// requireChromiumEnv set to "1" makes a missing chromium fail the browser
// test instead of skipping it (make test sets it, after installing it).
const requireChromiumEnv = "MICROSIM_REQUIRE_CHROMIUM"

// chromium finds Debian's chromium, or skips (fails under requireChromiumEnv).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "no chromium on PATH: install Debian's chromium package (make test does) to run the dashboard in a browser"
	if os.Getenv(requireChromiumEnv) == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// TestDashboardInBrowser drives the page in headless Chromium: it lists the
// test's service and nodes, a node that stops disappears within its TTL
// (without reloading: the page follows the event stream), and a call made
// through the form shows the handler's reply and its latency. Screenshots
// go to $MICROSIM_SCREENSHOTS when set.
func TestDashboardInBrowser(t *testing.T) {
	exe := chromium(t)
	w := newWorld(t)
	srv := httptest.NewServer(w.dash)
	defer srv.Close()
	defer w.dash.Close(context.Background()) // ends the page's event stream before srv.Close waits for it

	alloc, cancelAlloc := chromedp.NewExecAllocator(t.Context(), append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.WindowSize(1400, 900))...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(alloc)
	defer cancel()
	ctx, cancelT := context.WithTimeout(ctx, 60*time.Second)
	defer cancelT()

	shot := func(name string) {
		dir := os.Getenv("MICROSIM_SCREENSHOTS")
		if dir == "" {
			return
		}
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), png, 0o644))
	}
	nodes := func() int {
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('section[data-service="greeter"] tr.node').length`))
		require.NoError(t, err)
		return n
	}

	// waitFor polls a JavaScript condition (the page re-renders its list at
	// each snapshot, so element handles do not last: conditions do).
	waitFor := func(cond string, within time.Duration) time.Duration {
		start := time.Now()
		for {
			ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](cond))
			require.NoError(t, err, cond)
			if ok {
				return time.Since(start)
			}
			require.Less(t, time.Since(start), within, "still not true: %s", cond)
			time.Sleep(50 * time.Millisecond)
		}
	}
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/")))
	waitFor(`document.querySelector('section[data-service="greeter"]') !== null`, 10*time.Second)
	waitFor(`document.getElementById("conn").className === "live"`, 10*time.Second)
	require.Equal(t, 2, nodes())
	endpoints, err := chromedp.Run(ctx, chromedp.Text(`.endpoint[data-endpoint="Greeter.Hello"]`))
	require.NoError(t, err)
	require.Contains(t, endpoints, `request {"name": string}`)
	shot("dashboard-two-nodes.png")

	// node-2 stops without deregistering (its host crashes): the page drops
	// it when the registry does, within the TTL.
	w.net.Host("node-2").Crash()
	took := waitFor(`document.querySelectorAll('section[data-service="greeter"] tr.node').length === 1`, ttl+2*time.Second)
	require.Equal(t, 1, nodes())
	t.Logf("node-2 left the page %v after its crash (TTL %v)", took.Round(time.Millisecond), ttl)
	require.LessOrEqual(t, took, ttl+time.Second)
	shot("dashboard-node-gone.png")

	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(`.endpoint[data-endpoint="Greeter.Hello"] button`),
		chromedp.SetValue(`#req`, `{"name": "browser"}`),
		chromedp.Click(`#send`),
	))
	waitFor(`document.getElementById("reply").textContent.includes("Hello, browser")`, 10*time.Second)
	reply, err := chromedp.Run(ctx, chromedp.Text(`#reply`))
	require.NoError(t, err)
	require.JSONEq(t, `{"message": "Hello, browser"}`, reply)
	latency, err := chromedp.Run(ctx, chromedp.Text(`#latency`))
	require.NoError(t, err)
	require.Regexp(t, `^call [0-9]+\.[0-9]{3}ms · round trip [0-9.]+ ms$`, latency)
	t.Logf("form: reply %q, %s", reply, latency)
	shot("dashboard-call.png")
}
