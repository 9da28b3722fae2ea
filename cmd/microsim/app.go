package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/microsim/microsim/framework/broker"
	ferrors "github.com/microsim/microsim/framework/errors"
	"github.com/microsim/microsim/framework/registry"
	"github.com/microsim/microsim/internal/jsonpos"
	"github.com/microsim/microsim/internal/resolve"
)

// Exit codes.
const (
	exitOK          = 0
	exitFailed      = 1 // the service answered with an error; a node is unhealthy
	exitUsage       = 2 // bad flags, arguments or JSON
	exitNotFound    = 3 // no such service or endpoint
	exitUnavailable = 4 // registry, broker or service unreachable or too slow
)

// app is the command's environment: its streams and how it reaches a system.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	connect        func(ctx context.Context, f *globals) (*env, error)
	getenv         func(string) string
	// ready, when set, receives the gateway's address once it listens (tests).
	ready func(addr string)

	flags globals
}

// globals are the flags every command takes.
type globals struct {
	registry, consul, consulTag string
	transport                   string
	broker, nats                string
	timeout                     time.Duration
	output                      string
}

// exitError carries an exit code and a hint that says what to do.
type exitError struct {
	code int
	err  error
	hint string
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func usageError(format string, args ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, args...)}
}

// classify turns an error into its exit code and a hint.
func (a *app) classify(err error) *exitError {
	var ee *exitError
	if errors.As(err, &ee) {
		return ee
	}
	var re *resolve.Error
	switch {
	case errors.As(err, &re):
		hint := "run 'microsim services' to list what is registered"
		if re.Kind != resolve.ErrServiceNotFound {
			hint = fmt.Sprintf("run 'microsim describe %s' to see its endpoints", re.Service)
		}
		return &exitError{code: exitNotFound, err: err, hint: hint}
	case errors.Is(err, jsonpos.ErrInvalid):
		return &exitError{code: exitUsage, err: err, hint: "fix the JSON at the position given"}
	case errors.Is(err, registry.ErrUnavailable):
		return &exitError{code: exitUnavailable, err: err, hint: a.registryHint()}
	case errors.Is(err, broker.ErrUnavailable):
		return &exitError{code: exitUnavailable, err: err,
			hint: fmt.Sprintf("start NATS at %s or point --nats (or NATS_URL) at it", a.flags.nats)}
	case errors.Is(err, context.DeadlineExceeded):
		return &exitError{code: exitUnavailable, err: err, hint: "raise --timeout or check the service's health"}
	}
	var fe *ferrors.Error
	if errors.As(err, &fe) {
		switch fe.Code {
		case ferrors.NotFound:
			return &exitError{code: exitNotFound, err: err, hint: "run 'microsim services' to list what is registered"}
		case ferrors.Unavailable, ferrors.DeadlineExceeded, ferrors.Interrupted:
			return &exitError{code: exitUnavailable, err: err, hint: "run 'microsim health SERVICE' to see which nodes answer"}
		case ferrors.BadRequest:
			return &exitError{code: exitFailed, err: err, hint: "run 'microsim describe SERVICE' to see the request's shape"}
		}
	}
	return &exitError{code: exitFailed, err: err}
}

func (a *app) registryHint() string {
	if a.flags.registry == "consul" {
		return fmt.Sprintf("start Consul at %s or point --consul (or CONSUL_HTTP_ADDR) at it", a.flags.consul)
	}
	return "check --registry"
}

// execute runs the command line args and returns the exit code.
func execute(ctx context.Context, a *app, args []string) int {
	root := a.root()
	root.SetArgs(args)
	root.SetIn(a.stdin)
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitOK
	}
	if cmd == nil || !cmd.Runnable() || isCobraUsage(err) {
		fmt.Fprintf(a.stderr, "microsim: %v\nRun 'microsim --help' for usage.\n", err)
		return exitUsage
	}
	ee := a.classify(err)
	fmt.Fprintf(a.stderr, "microsim: %v\n", ee.err)
	if ee.hint != "" {
		fmt.Fprintf(a.stderr, "  hint: %s\n", ee.hint)
	}
	return ee.code
}

// isCobraUsage recognises cobra's own argument and flag errors.
func isCobraUsage(err error) bool {
	var ee *exitError
	if errors.As(err, &ee) {
		return false
	}
	msg := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "accepts ", "requires at least",
		"invalid argument", "flag needs an argument", "required flag"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}

func (a *app) root() *cobra.Command {
	root := &cobra.Command{
		Use:   "microsim",
		Short: "List, describe, call and front microsim services",
		Long: "microsim is the toolkit for live microsim systems (Consul registry, TCP transport, NATS broker).\n\n" +
			"Exit codes: 0 success; 1 the service answered with an error (or a node is unhealthy); 2 usage or\n" +
			"bad input (flags, JSON); 3 a service or endpoint not found; 4 the registry, broker or service could\n" +
			"not be reached in time.",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return a.checkGlobals()
		},
	}
	f := &a.flags
	pf := root.PersistentFlags()
	pf.StringVar(&f.registry, "registry", a.env("MICROSIM_REGISTRY", "consul"), "registry: consul or memory (env MICROSIM_REGISTRY)")
	pf.StringVar(&f.consul, "consul", a.env("CONSUL_HTTP_ADDR", "127.0.0.1:8500"), "Consul agent address (env CONSUL_HTTP_ADDR)")
	pf.StringVar(&f.consulTag, "consul-tag", "microsim", "the Consul tag of microsim's services")
	pf.StringVar(&f.transport, "transport", a.env("MICROSIM_TRANSPORT", "tcp"), "transport: tcp or memory (env MICROSIM_TRANSPORT)")
	pf.StringVar(&f.broker, "broker", a.env("MICROSIM_BROKER", "nats"), "broker: nats or memory (env MICROSIM_BROKER)")
	pf.StringVar(&f.nats, "nats", a.env("NATS_URL", "nats://127.0.0.1:4222"), "NATS server URL (env NATS_URL)")
	pf.DurationVar(&f.timeout, "timeout", 10*time.Second, "deadline of each call and registry request")
	pf.StringVarP(&f.output, "output", "o", "table", "output: table or json")
	_ = root.RegisterFlagCompletionFunc("output", fixedCompletion("table", "json"))
	_ = root.RegisterFlagCompletionFunc("registry", fixedCompletion("consul", "memory"))
	_ = root.RegisterFlagCompletionFunc("transport", fixedCompletion("tcp", "memory"))
	_ = root.RegisterFlagCompletionFunc("broker", fixedCompletion("nats", "memory"))
	root.AddCommand(a.servicesCmd(), a.describeCmd(), a.callCmd(), a.streamCmd(), a.publishCmd(), a.subscribeCmd(),
		a.healthCmd(), a.gatewayCmd(), a.webCmd(), a.sidecarCmd())
	return root
}

func (a *app) env(key, def string) string {
	if v := a.getenv(key); v != "" {
		return v
	}
	return def
}

func (a *app) checkGlobals() error {
	f := &a.flags
	for _, c := range []struct{ name, v, ok1, ok2 string }{
		{"--registry", f.registry, "consul", "memory"}, {"--transport", f.transport, "tcp", "memory"},
		{"--broker", f.broker, "nats", "memory"}, {"--output", f.output, "table", "json"},
	} {
		if c.v != c.ok1 && c.v != c.ok2 {
			return usageError("%s %q: use %s or %s", c.name, c.v, c.ok1, c.ok2)
		}
	}
	if f.timeout <= 0 {
		return usageError("--timeout %v: give a positive duration such as 5s", f.timeout)
	}
	return nil
}

func fixedCompletion(values ...string) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return values, cobra.ShellCompDirectiveNoFileComp
	}
}

// serviceCompletion completes the first argument with registered services.
func (a *app) serviceCompletion(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), a.flags.timeout)
	defer cancel()
	e, err := a.connect(ctx, &a.flags)
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	defer e.Close()
	svcs, err := e.reg.ListServices(ctx)
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return resolve.Names(svcs), cobra.ShellCompDirectiveNoFileComp
}
