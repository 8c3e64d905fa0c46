// Package pipeline holds logship's shared vocabulary and its per-record
// stages.
//
// Data flows one way: driver → pipeline → redact → ring → sinks. The driver
// turns dockerd's FIFO frames into Records; the ring (pipeline/ring) stores
// them per container; sinks read them back. Those packages import pipeline
// and not each other; only cmd/logship wires them together.
//
// This package owns:
//   - Record, Source, StreamWriter, LogReader and ReadConfig: the types that
//     cross package boundaries, with their ownership rules.
//   - Option parsing helpers (OptionParser, CheckKnown, ErrInvalidOption):
//     every package parses its own log-opts with them, so a bad option is
//     reported with its name and what it accepts, never with its value.
//   - Metrics: counters and gauges rendered as Prometheus text. Every drop is
//     a counter with a reason label.
package pipeline
