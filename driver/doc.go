// Package driver speaks dockerd's log-driver plugin protocol: it answers the
// plugin's HTTP API on a unix socket, reads one FIFO per log stream, turns
// frames into pipeline.Records and hands them to a Backend, and serves
// `docker logs` (ReadLogs) from the Backend.
//
// # Protocol, as dockerd really speaks it
//
// Every call is POST /<Method> with a JSON body (keys are Go field names),
// and every reply is JSON: dockerd treats an empty 200 body as an error.
//
//	/LogDriver.Capabilities  empty body            → {"Cap":{"ReadLogs":true},"Err":""}
//	/LogDriver.StartLogging  {"File","Info"}       → {"Err":""} or {"Err":"<message naming the bad log-opt>"}
//	/LogDriver.StopLogging   {"File"}              → {"Err":""}, always, also for unknown files
//	/LogDriver.ReadLogs      {"Info","Config"}     → 200, then a stream of frames (below)
//	/Plugin.Activate         (legacy v1 only)      → {"Implements":["LogDriver"]}
//
// Docker's published docs differ from dockerd's code in three places; this
// package follows the code (moby daemon/logger/proxy.go): the Capabilities
// reply is {"Cap":{...}} (the documented {"ReadLogs":true} silently turns
// reading off), the ReadLogs key is "Config" (not "ReadConfig"), and Config
// carries Until.
//
// # Frames
//
// The FIFO and the ReadLogs reply carry the same frames:
//
//	uint32 big-endian length n || LogEntry protobuf (n bytes)
//	LogEntry { string source = 1; int64 time_nano = 2; bytes line = 3; bool partial = 4;
//	           PartialLogEntryMetadata partial_log_metadata = 5; repeated LogAttr attrs = 6 }
//	PartialLogEntryMetadata { bool last = 1; string id = 2; int32 ordinal = 3 }
//
// The codec is hand-written (frame.go), decodes in place without
// allocating, skips unknown fields, and is cross-checked against Docker's own
// generated type. A frame over MaxFrameSize (1 MiB; real frames are at most
// about 16.5 KB) cannot be resynchronised, since a length prefix is all the
// framing there is: the rest of that stream is read and discarded (counted),
// so the container is never blocked. A frame whose protobuf does not parse is
// skipped and counted; framing stays intact.
//
// The reader decodes frames where they sit in its 64 KiB buffer; only frames
// bigger than the buffer go through a scratch buffer, which never grows past
// the cap. A header above the cap is rejected before anything is allocated.
// FrameReader.Buffered() == 0 means the next read may block: that is when a
// stream flushes its writer, so readers and crash safety keep up with the
// container without a flush per line.
//
// In ReadLogs replies a complete line gets its newline back (dockerd prints
// Line as is); a partial record is sent without one, so `docker logs` prints
// exactly the bytes the container wrote.
//
// # Long lines
//
// dockerd cuts lines at 16 KiB: each chunk has partial=true and metadata
// {id, ordinal, last}, and every chunk carries the first chunk's time. The
// Assembler joins chunks by id and emits one record when the last chunk
// arrives. A stream can end without a last chunk (a final line without a
// newline), and a container can stall mid-line, so an unfinished line is
// written as a partial record after PartialTimeout, at EOF and at shutdown;
// later chunks continue it in a new record. A line longer than MaxLineSize
// is split into records of at most MaxLineSize bytes, counted; nothing is
// dropped.
//
// # Guarantees
//
//   - The FIFO is always drained. Reading never waits on the network: the
//     Backend's writer is local (the ring), and a writer error costs that
//     record, counted, never a blocked container.
//   - StopLogging returns at once and never cuts a stream short: it only
//     marks the stream as ending; the reader goes on until EOF, which comes
//     when dockerd closes its end right after the reply. A peer plugin that
//     closes its FIFO on StopLogging loses the last lines still in the pipe.
//     If EOF does not come within DrainTimeout the FIFO is closed anyway.
//   - Streams are keyed by FIFO path: dockerd opens several per container
//     (restarts, live-restore re-attach, throw-away loggers for `docker
//     logs` of a stopped container), so StartLogging never means
//     "container started".
//   - A restarted plugin re-attaches. dockerd never repeats StartLogging
//     after a plugin restart, and its containers block once their pipe is
//     full. The state folder holds one JSON file per open stream ({File,
//     Info}), written at StartLogging and removed at EOF; at start,
//     Reattach re-opens each FIFO. A FIFO that is gone, or that has no
//     writer within OpenTimeout, ended while the plugin was down.
//   - Shutdown (SIGTERM from `docker plugin disable`) stops reading without
//     ending streams: what was read is flushed, the rest waits in the FIFO,
//     and the state stays for the next process.
//   - Reads are coalesced (Config.ReadCoalesce, 200 µs by default): after
//     a read that drained the FIFO, the stream flushes what it read and
//     waits that long before reading again, so frames arrive in bulk and
//     neither logship nor dockerd is woken every few lines. A lone line is
//     never held back, and no pause happens after StopLogging.
//   - Every request body is capped (maxRequestBody) and the handler is
//     fuzzed: whatever arrives, the reply is JSON and nothing panics.
//
// # Metrics
//
// logship_driver_streams_{started,reattached,reattach_gone,ended}_total,
// logship_driver_streams_active, logship_driver_frames_total,
// logship_driver_line_bytes_total,
// logship_driver_dropped_records_total{reason=store_error|bad_frame|frame_too_large|truncated_frame|unknown_source},
// logship_driver_discarded_bytes_total{reason=unrecoverable_stream},
// logship_driver_stop_drain_timeouts_total, and the Assembler's
// logship_driver_lines_split_total{reason} and logship_driver_partial_gaps_total.
package driver
