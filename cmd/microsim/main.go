// Command microsim is the toolkit for live microsim systems: it lists,
// describes, calls and checks services, publishes and subscribes, and puts
// an HTTP API gateway in front of them.
//
//	microsim services                          the registered services
//	microsim describe SERVICE                  versions, nodes, endpoints and their request shapes
//	microsim call SERVICE ENDPOINT [JSON|-]    one call; the request from the argument or stdin
//	microsim stream SERVICE ENDPOINT           a stream: JSON lines in on stdin, lines out on stdout
//	microsim publish TOPIC JSON                publish an event
//	microsim subscribe TOPIC                   print the topic's events, one JSON line each
//	microsim health SERVICE                    each node: reachable, latency
//	microsim gateway --http 127.0.0.1:8080     the HTTP API gateway (package gateway)
//	microsim web --http 127.0.0.1:8082         the web dashboard (package web)
//	microsim sidecar --http 127.0.0.1:8081     the HTTP sidecar for services in other languages (package sidecar)
//	microsim completion bash|zsh|fish|powershell
//
// The registry is Consul (--consul, or CONSUL_HTTP_ADDR; 127.0.0.1:8500 by
// default), the transport TCP and the broker NATS (--nats, or NATS_URL;
// nats://127.0.0.1:4222 by default). --registry, --transport and --broker
// memory select an in-process memory.Network instead, which only the
// services of this same process can reach.
//
// Output is a table for people and JSON with --output json. Exit codes: 0
// success; 1 the service answered with an error (or a node is unhealthy);
// 2 usage or bad input (flags, JSON); 3 a service or endpoint not found; 4
// the registry, broker or service could not be reached in time.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := execute(ctx, &app{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, connect: connect, getenv: os.Getenv}, os.Args[1:])
	stop()
	os.Exit(code)
}
