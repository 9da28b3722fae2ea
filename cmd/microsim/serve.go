package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// serveFlags declares the flags of a command that serves HTTP.
func serveFlags(f *pflag.FlagSet, addr *string, grace *time.Duration, defaultAddr string) {
	f.StringVar(addr, "http", defaultAddr, "address to serve HTTP on")
	f.DurationVar(grace, "grace", 10*time.Second, "how long calls in flight may finish at shutdown")
}

// serveHTTP serves h on addr until the command's ctx ends (SIGINT or
// SIGTERM), then shuts down: the server stops accepting, close (the
// handler's own graceful close) and the server's shutdown get grace to
// finish what is in flight. name prefixes its messages on stderr.
func (a *app) serveHTTP(cmd *cobra.Command, name, addr string, h http.Handler, close func(context.Context) error, grace time.Duration) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return usageError("--http %s: %v", addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Fprintf(cmd.ErrOrStderr(), "microsim %s: serving http://%s (registry %s)\n", name, ln.Addr(), a.flags.registry)
	if a.ready != nil {
		a.ready(ln.Addr().String())
	}
	select {
	case err := <-served:
		_ = close(context.Background())
		return err
	case <-cmd.Context().Done():
	}
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	closed := make(chan error, 1)
	go func() { closed <- close(ctx) }()
	err = srv.Shutdown(ctx)
	if cerr := <-closed; err == nil {
		err = cerr
	}
	if serr := <-served; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "microsim %s: stopped\n", name)
	return err
}
