// Package server pins the nats-server that the NATS bridge's tests run
// (internal/natslab builds it with `go build` here, once, into a cache).
// It is a module of its own so that neither the mailslot library nor its
// commands carry a NATS server, nor its go.mod name one.
package server
