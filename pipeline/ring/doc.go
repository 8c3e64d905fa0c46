// Package ring is logship's per-container log store on local disk: a
// rotating series of compressed blocks, the source of `docker logs`
// (ReadLogs: tail, since, until, follow) and the spool that sinks read by
// sequence number (ReadFrom).
//
// # Use
//
//	s, err := ring.Open(ring.Config{Dir: "/var/lib/docker/plugins/.../rings", Metrics: m})
//	opts, err := ring.ParseOptions(info.Config)        // max-size, max-file, compress
//	w, err := s.OpenWriter(info.ContainerID, opts, meta) // one per FIFO
//	w.Write(rec) ... w.Flush() ... w.Close()
//	s.ReadLogs(ctx, id, readConfig, emit)                // docker logs
//	next, skipped, err := s.ReadFrom(ctx, id, cursor, send) // sinks
//	s.Cleanup(time.Now())                                // at start and hourly
//
// # Guarantees
//
//   - Write copies the record into the open block in memory and assigns
//     its Seq (per container, from 1, strictly increasing). It makes no
//     system call and no allocation, except when the block reaches
//     BlockSize and is sealed: compressed and appended to the current
//     segment file. It never waits on anything but the local disk.
//   - Flush writes every record not yet on disk to the WAL with one
//     write(2), without fsync: after it returns the records survive a
//     crash of the process (kill -9), not of the machine. Readers see a
//     record once it has been flushed (or sealed), never before, so a Seq
//     a reader has seen is never given to another record. A record that
//     was written but not flushed when the process died is lost and its
//     Seq is reused; nobody saw it.
//   - Reopening after a crash at any instant works. A torn block at the
//     end of the last segment and a torn WAL chunk are found by length and
//     CRC, logged, counted (logship_ring_torn_tails_total) and cut off;
//     complete blocks before them are kept. If the process died after a
//     block was appended but before the WAL was reset, the WAL's records
//     are recognised by Seq as already sealed and dropped, not duplicated.
//   - A damaged block inside a segment (a bit flip) is skipped by readers
//     and counted (logship_ring_corrupt_blocks_total); the blocks after it
//     stay readable, found by length when the header passed its CRC, else
//     by scanning for the next block magic. Every length read from disk is
//     checked against the file size and a 16 MiB cap before anything is
//     allocated, and zstd runs with the same memory cap, so no input makes
//     the decoders panic or allocate without bound (fuzzed: FuzzOpenRing,
//     FuzzSegment, FuzzReadWAL, FuzzRecords).
//   - Readers and writers run concurrently. A reader takes the ring's lock
//     only to copy what it needs (the segment list, or the new bytes of
//     the open block) and calls back without it. A segment evicted while
//     being read stays readable through its open descriptor; one evicted
//     before the reader opened it is skipped. A read holds at most one
//     compressed and one decompressed block (or a copy of the open block).
//
// # Files
//
//	<Dir>/
//	  .lock                         flock(2)ed by the Store that owns Dir
//	  .trash-<id>-<n>/              a ring being removed; Cleanup deletes leftovers
//	  <container id>/               64 lower-case hex digits, nothing else
//	    meta.json                   OpenWriter's meta blob, replaced by rename
//	    wal                         the open block's records
//	    00000000000000000001.seg    sealed blocks, named by their first Seq
//	    00000000000000052817.seg    (20 digits, so names sort as numbers)
//
// Segment files are append-only. The last one is appended to until its
// size reaches max-size (so a segment exceeds it by at most one block);
// then a new one is started, named by the first Seq of the block that
// opens it, and the oldest beyond max-file are deleted, their records
// counted in logship_ring_evicted_records_total. Because the names carry
// Seqs, ReadFrom opens the right segment without reading any other.
//
// # Block format
//
// A segment is a sequence of blocks. All integers are little-endian.
//
//	offset  size    field
//	0       4       magic "LSBK"
//	4       1       format version, 1
//	5       1       codec: 0 none, 1 s2 (block format), 2 zstd (one frame)
//	6       2       reserved, 0
//	8       4       stored: payload bytes on disk
//	12      4       raw: payload bytes uncompressed, at most 16 MiB;
//	                stored <= raw, and stored == raw for codec 0 (a payload
//	                that does not shrink is stored uncompressed)
//	16      4       count: records in the block, at least 1
//	20      8       first: Seq of the first record (the others follow)
//	28      8       min time, Unix ns (int64)
//	36      8       max time, Unix ns (int64)
//	44      4       CRC-32C (Castagnoli) of bytes 0-43, then of the payload
//	48      stored  payload: the records, compressed
//	48+s    4       trailer: total block length, 48 + stored + 8
//	52+s    4       trailer magic "LSBE"
//
//	┌────────────────────────┬─────────────────────┬──────────┬──────┐
//	│ header 48 B            │ payload (stored B)  │ len u32  │"LSBE"│
//	│ magic…count first min  │                     │          │      │
//	│ max crc                │                     │          │      │
//	└────────────────────────┴─────────────────────┴──────────┴──────┘
//	 ▲ forward readers go header to header        backward readers go
//	   using stored                               trailer to trailer ◄
//
// The trailer lets --tail walk a segment backwards from its end, reading
// only 8 + 48 bytes per block, and decompress only the blocks it needs;
// count and first tell it where each block sits in the Seq order. min and
// max time let Since skip whole blocks without decompressing them, and
// Until stop at a block that starts after it.
//
// Records, inside a payload (and a WAL chunk), one after the other:
//
//	1 byte    flags: bits 0-1 source (1 stdout, 2 stderr), bit 2 partial,
//	          bits 3-7 zero
//	uvarint   zigzag(time − time of the previous record of the block);
//	          the first record of a block is relative to 0
//	uvarint   line length (at most MaxLineSize, 8 MiB)
//	bytes     the line, without its newline
//
// A record's Seq is not stored: it is the block's first plus its index.
//
// # WAL format
//
// The WAL holds the records of the open block, as the chunks written by
// successive Flushes; concatenated, their payloads are exactly the block's
// payload before compression.
//
//	offset  size    field
//	0       4       magic "LSWC"
//	4       1       format version, 1
//	5       3       reserved, 0
//	8       4       payload length
//	12      4       record count
//	16      8       Seq of the first record of the chunk
//	24      4       CRC-32C of bytes 0-23, then of the payload
//	28      length  payload: records as above
//
// On reopen the chunks are read while each is complete, passes its CRC,
// decodes, and continues the Seqs of the one before; the rest is cut off.
// A WAL whose first Seq is below the end of the last segment belongs to a
// block that was already sealed and is dropped.
//
// Why a WAL: the driver flushes after every line when a container is
// quiet. Writing a compressed block per Flush would make blocks of one
// line (no compression, 56 bytes of framing each); appending raw records
// to the segment would need the segment rewritten to compress it. The WAL
// makes each Flush one small write of raw bytes, and segments only ever
// receive whole, compressed blocks. Sealing appends the block first and
// resets the WAL after, so a crash between the two loses nothing.
//
// # Reading
//
// ReadLogs applies Docker's order (see docs/docker-protocol.md §3): Tail
// first (the last N Seqs; negative means all, 0 none of the history), then
// records with Time before Since are skipped, then reading stops at the
// first record with Time after Until. Partial flags come back as written.
// Tail counts Seqs, so a damaged block inside the tail window makes it
// return fewer records. With Follow, records are delivered as they are
// flushed: each Flush (or seal) closes a channel that waiting readers
// select on, with the context, so there is no polling. A follow ends when
// the context is cancelled or, once everything has been delivered, when
// the ring has no open writer (the container's stream ended). Follow on a
// ring without a writer returns after the history.
//
// ReadFrom, for sinks, delivers every record with Seq >= a cursor and
// returns the cursor to use next and how many Seqs in between were
// skipped because they are gone (evicted, or lost to corruption), so a
// sink can count what it never sent.
//
// # Compression
//
// Blocks are compressed whole (never line by line) with one shared
// encoder: s2 by default, zstd when Config.Codec says so; readers decode
// both, whatever the configuration. On 128 KiB blocks of the
// benign-dev.jsonl corpus lines (4,400 JSON and text log lines full of
// UUIDs, trace ids and hashes), on one core of the shared 2-core AMD EPYC
// build machine (BenchmarkCodec; figures vary by about 20% run to run):
//
//	codec          ratio   compress   decompress
//	s2             2.36    1.29 GB/s  4.2 GB/s
//	zstd fastest   3.98    280 MB/s   1.33 GB/s
//
// On 300-byte lines made of the same corpus (BenchmarkWrite), Write costs
// 33 ns per record into the open block (0 allocations), and 333 ns (s2,
// ratio 2.71) or 1,080 ns (zstd, ratio 4.37) per record once sealing is
// amortised over the block. The pipeline's budget is about 2 µs per line
// for everything (DESIGN.md: 500 k lines/s on one core), so zstd would
// take more than half of it on the FIFO reader goroutine; s2 takes a
// sixth. s2 is the default for that reason, at the cost of holding 1.6
// times less history in the same max-size × max-file; a deployment that
// prefers history to CPU sets Codec to zstd. Real logs are usually more
// repetitive than this corpus and compress better with both.
//
// Other figures (BenchmarkFlush, BenchmarkTail10, BenchmarkReadAll):
// Flush of one 300-byte record 0.7 µs (one pwrite(2)); `--tail 10` on a
// stopped container holding 100 MB of lines, opening the ring included,
// 0.1 ms (Docker's local driver: about 10 ms); a full read of those
// 100 MB, 2.7 GB/s of line bytes.
//
// # Orphan cleanup
//
// Docker never tells a log plugin that a container was removed, so
// Cleanup decides from the disk. A ring in use (an open writer, or a read
// in progress) is never touched. Otherwise a ring is removed when
//
//	(a) ContainersDir is usable and ContainersDir/<id> does not exist, and
//	    the ring was last written more than OrphanGrace (5m) ago
//	    (reason "container_gone");
//	(b) ContainersDir is not usable, and the ring was last written more
//	    than MaxAge (168h) ago (reason "max_age");
//
// then (c), if MaxTotal > 0 and the rings not in use together hold more
// than MaxTotal bytes, the least recently written are removed until they
// fit (reason "max_total"). "Last written" is the newest modification
// time of the ring folder and its files. ContainersDir is usable when it
// is set, can be listed, holds at least one container folder, and holds
// the folder of every container that has an open writer: an empty or
// wrongly mounted folder would otherwise make every ring look orphaned,
// and removal is the one irreversible choice. Removal renames the folder
// under the store lock (so a concurrent OpenWriter either sees the ring
// whole or not at all) and deletes it afterwards. Removals are counted in
// logship_ring_removed_total{reason}.
//
// # Options
//
// max-size, max-file and compress have the names, meanings and defaults
// of Docker's `local` driver (20 MiB, 5, true; max-size in decimal units
// as Docker parses it). One difference: local refuses compress=true with
// max-file=1, because it gzips a rotated file; the ring compresses each
// block as it is sealed, so the combination is accepted.
//
// # Metrics
//
//	logship_ring_records_written_total      records appended
//	logship_ring_bytes_written_total        line bytes appended, uncompressed
//	logship_ring_bytes_stored_total         bytes of sealed blocks written to segments
//	logship_ring_evicted_records_total      records deleted by rotation
//	logship_ring_corrupt_blocks_total       damaged blocks skipped by readers
//	logship_ring_torn_tails_total           incomplete tails cut off on reopen
//	logship_ring_removed_total{reason}      rings removed by Cleanup
package ring
