package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/microsim/microsim/gateway"
	"github.com/microsim/microsim/sim"
	"github.com/microsim/microsim/sim/report"
)

const serveLong = `Run a scenario's world in real time and put the API gateway in front of
it, so that a person (curl, a browser) can call into the simulated system
while its workloads run and its fault timeline plays.

The gateway serves HTTP on --http (127.0.0.1:8080 by default; port 0 picks
one, printed on stderr): POST /{service}/{method} or POST /rpc, as the
microsim gateway does. Synthetic services accept any JSON request and
answer {}; services implemented in Go cannot run here (they need the Go
test that supplies them). The run lasts the scenario's duration in real
time; then the report is printed as by simctl run (exit 0 when every
assertion held, 1 when one failed, 2 on invalid input).`

func serveCmd(app *app, setCode func(int)) *cobra.Command {
	var addr, format string
	cmd := &cobra.Command{
		Use:   "serve FILE",
		Short: "Run a scenario in real time with the API gateway in front of its world",
		Long:  serveLong,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, files []string) error {
			loaded, ok := loadFiles(app.stderr, files)
			if !ok {
				setCode(exitInvalid)
				return errReported
			}
			l := loaded[0]
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				setCode(exitInvalid)
				return fmt.Errorf("--http %s: %w", addr, err)
			}
			open := func(e sim.Entrance) (func(), error) {
				gw, err := gateway.New(e.Registry, e.Client)
				if err != nil {
					return nil, err
				}
				srv := &http.Server{Handler: gw, ReadHeaderTimeout: 10 * time.Second}
				done := make(chan struct{})
				go func() {
					defer close(done)
					_ = srv.Serve(ln)
				}()
				fmt.Fprintf(app.stderr, "simctl: serving %s on http://%s for %v (real time)\n", l.sc.Name, ln.Addr(), l.sc.Duration)
				return func() {
					ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					defer cancel()
					_ = gw.Close(ctx)
					if err := srv.Shutdown(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
						fmt.Fprintf(app.stderr, "simctl: stopping the gateway: %v\n", err)
					}
					<-done
				}, nil
			}
			rep, err := sim.RunWith(sim.RealTime(), l.sc, sim.WithFile(l.file), sim.WithEntrance(open))
			if err != nil {
				_ = ln.Close()
				setCode(exitInvalid)
				return err
			}
			if !rep.Passed {
				setCode(exitFailed)
			}
			return report.Write(app.stdout, format, rep)
		},
	}
	cmd.Flags().StringVar(&addr, "http", "127.0.0.1:8080", "address the gateway listens on (host:port; port 0 picks one)")
	cmd.Flags().StringVar(&format, "format", report.FormatText, "report format: text or json")
	return cmd
}
