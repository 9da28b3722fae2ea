package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/microsim/microsim/framework/client"
	"github.com/microsim/microsim/framework/codec"
	ferrors "github.com/microsim/microsim/framework/errors"
	"github.com/microsim/microsim/framework/metadata"
	"github.com/microsim/microsim/internal/jsonpos"
	"github.com/microsim/microsim/internal/resolve"
	"github.com/microsim/microsim/internal/shapetext"
)

// maxInput bounds a request read from stdin or an argument.
const maxInput = 4 << 20

// callResult is the JSON output of `call`.
type callResult struct {
	Service   string          `json:"service"`
	Endpoint  string          `json:"endpoint"`
	LatencyMS float64         `json:"latency_ms"`
	Response  json.RawMessage `json:"response"`
}

func (a *app) callCmd() *cobra.Command {
	var md []string
	cmd := &cobra.Command{
		Use:   "call SERVICE ENDPOINT [JSON|-]",
		Short: "Call an endpoint; the request is the JSON argument, or stdin when it is - or absent",
		Long: "Call an endpoint (Handler.Method, or the method alone) with a JSON request given as an argument or on\n" +
			"stdin, and print the response. 'microsim describe SERVICE' shows the request's shape.",
		Example:           "  microsim call greeter Greeter.Hello '{\"name\": \"ana\"}'\n  echo '{\"name\": \"ana\"}' | microsim call greeter hello",
		Args:              cobra.RangeArgs(2, 3),
		ValidArgsFunction: a.serviceCompletion,
		RunE: func(cmd *cobra.Command, args []string) error {
			body, err := a.input(args[2:])
			if err != nil {
				return err
			}
			mdCtx, err := withMetadata(cmd.Context(), md)
			if err != nil {
				return err
			}
			cmd.SetContext(mdCtx)
			return a.withEnv(cmd, func(ctx context.Context, e *env) error {
				t, cli, err := e.target(ctx, args[0], args[1])
				if err != nil {
					return err
				}
				var out json.RawMessage
				start := time.Now()
				err = cli.Call(ctx, args[0], t.Endpoint, json.RawMessage(body), &out, client.WithCallContentType(codec.ContentTypeJSON))
				took := time.Since(start)
				if err != nil {
					return badRequestHint(err, args[0], t)
				}
				if len(out) == 0 {
					out = json.RawMessage("null")
				}
				w := cmd.OutOrStdout()
				if a.flags.output == "json" {
					return writeJSON(w, callResult{Service: args[0], Endpoint: t.Endpoint, LatencyMS: ms(took), Response: out})
				}
				_, err = fmt.Fprintf(w, "%s\n", indentJSON(out))
				return err
			})
		},
	}
	cmd.Flags().StringArrayVarP(&md, "metadata", "m", nil, "request metadata KEY=VALUE (repeatable)")
	return cmd
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// target resolves endpoint of service and builds the client to call it.
func (e *env) target(ctx context.Context, service, endpoint string) (*resolve.Target, client.Client, error) {
	t, err := resolve.Endpoint(ctx, e.reg, service, endpoint)
	if err != nil {
		return nil, nil, err
	}
	cli, err := e.client(nil, false)
	if err != nil {
		return nil, nil, err
	}
	return t, cli, nil
}

// badRequestHint adds to a bad_request reply the shape the request should have.
func badRequestHint(err error, service string, t *resolve.Target) error {
	if ferrors.CodeOf(err) != ferrors.BadRequest || t.Desc == nil || t.Desc.RequestShape == nil {
		return err
	}
	return &exitError{code: exitFailed, err: err, hint: fmt.Sprintf("%s takes %s (microsim describe %s)",
		t.Endpoint, shapetext.Signature(t.Desc.RequestShape), service)}
}

// input is the request: the argument, or stdin for "-" or no argument.
func (a *app) input(args []string) ([]byte, error) {
	var b []byte
	from := "the JSON argument"
	if len(args) == 0 || args[0] == "-" {
		from = "stdin"
		var err error
		b, err = io.ReadAll(io.LimitReader(a.stdin, maxInput+1))
		if err != nil {
			return nil, fmt.Errorf("reading stdin: %w", err)
		}
	} else {
		b = []byte(args[0])
	}
	if len(b) > maxInput {
		return nil, usageError("%s is larger than %d bytes", from, maxInput)
	}
	if strings.TrimSpace(string(b)) == "" {
		if from == "stdin" {
			return nil, usageError("no request on stdin: give the JSON request as an argument or pipe it in ('{}' for none)")
		}
		b = []byte("{}")
	}
	if err := jsonpos.Check(b); err != nil {
		return nil, fmt.Errorf("%s: %w", from, err)
	}
	return b, nil
}

// withMetadata adds KEY=VALUE pairs to ctx's metadata.
func withMetadata(ctx context.Context, kvs []string) (context.Context, error) {
	pairs := make([]string, 0, 2*len(kvs))
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, usageError("--metadata %q: give KEY=VALUE", kv)
		}
		if metadata.IsReserved(k) {
			return nil, usageError("--metadata %q: keys beginning with Micro- are reserved", kv)
		}
		pairs = append(pairs, k, v)
	}
	if len(pairs) == 0 {
		return ctx, nil
	}
	return metadata.AppendToContext(ctx, pairs...), nil
}

func (a *app) streamCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "stream SERVICE ENDPOINT",
		Short: "Open a stream: each stdin line is a JSON message sent, each message received is printed on a line",
		Long: "Open a bidirectional stream. Each line of stdin is one JSON message; end of input closes the sending\n" +
			"side. Each message the service sends is printed as one compact JSON line. --timeout bounds the whole stream.",
		Args:              cobra.ExactArgs(2),
		ValidArgsFunction: a.serviceCompletion,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withEnv(cmd, func(ctx context.Context, e *env) error {
				t, cli, err := e.target(ctx, args[0], args[1])
				if err != nil {
					return err
				}
				st, err := cli.Stream(ctx, args[0], t.Endpoint, client.WithCallContentType(codec.ContentTypeJSON))
				if err != nil {
					return err
				}
				defer st.Close()
				var bad atomic.Value // the error of a bad input line, stored before the stream is closed
				sent := make(chan error, 1)
				go func() { sent <- a.sendLines(st, &bad) }()
				w := bufio.NewWriter(cmd.OutOrStdout())
				defer w.Flush()
				var recvErr error
				for {
					var msg json.RawMessage
					if recvErr = st.Recv(&msg); recvErr != nil {
						break
					}
					_, _ = w.Write(append(msg, '\n'))
					_ = w.Flush()
				}
				_ = st.Close()
				if err, _ := bad.Load().(error); err != nil {
					return err
				}
				if !errors.Is(recvErr, io.EOF) {
					return recvErr
				}
				select { // stdin may still be open: the service ended the stream
				case err := <-sent:
					return err
				default:
					return nil
				}
			})
		},
	}
}

// sendLines sends each stdin line as a message, then closes the sending side.
func (a *app) sendLines(st client.Stream, bad *atomic.Value) error {
	sc := bufio.NewScanner(a.stdin)
	sc.Buffer(make([]byte, 64<<10), maxInput)
	for n := 1; sc.Scan(); n++ {
		line := sc.Bytes()
		if strings.TrimSpace(string(line)) == "" {
			continue
		}
		if err := jsonpos.Check(line); err != nil {
			err = fmt.Errorf("stdin line %d: %w", n, err)
			bad.Store(err)
			_ = st.Close()
			return err
		}
		if err := st.Send(json.RawMessage(append([]byte(nil), line...))); err != nil {
			return nil // the service ended the stream; Recv reports why
		}
	}
	if err := sc.Err(); err != nil {
		err = usageError("reading stdin: %v", err)
		bad.Store(err)
		_ = st.Close()
		return err
	}
	return st.CloseSend()
}
