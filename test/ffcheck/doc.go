// Package ffcheck runs logship's fluentd sink against a real forward
// server: the OpenTelemetry Collector's fluentforwardreceiver, in-process.
//
// It is a module of its own so that the Collector's large dependency tree
// stays out of logship's go.mod. Run it with
//
//	cd test/ffcheck && go test ./...
//
// The receiver acks a chunk only after its consumer took the records, and
// closes the connection without an ack when the consumer fails, so these
// tests check acknowledged delivery end to end. What it cannot check (TLS,
// the shared-key handshake) is covered by sinks/fluentd's own test server.
package ffcheck
