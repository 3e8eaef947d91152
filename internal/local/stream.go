//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package local

// A writer copies a large record into its ring with non-temporal stores,
// which go to memory without first fetching the ring's cache lines. Those
// lines were last read by the reader's CPU: an ordinary copy must take
// each of them from there before writing it, and on 2 CPUs of an AMD
// EPYC that held one writer of 64 KiB records to 6-7 GB/s (0.10 million
// records a second), the writer's copy taking nearly all of its time.
// Streamed, the same writer moved 0.29-0.34 million (4 KiB records: 0.95
// to 1.5-1.6 million), and the reader, which then reads the record from
// memory, kept up. Below streamMin an ordinary copy wins: the reader
// finds a small record in the writer's cache sooner than in memory (1 KiB
// records: 3.8 million a second ordinary, 1.85 streamed).
const streamMin = 4096

// streamCopy copies src to the start of dst, as copy does, streaming
// records of streamMin bytes and more where the CPU can (see above). The
// streamed stores are fenced before it returns, so the tail published
// after them orders them as it does ordinary stores.
func streamCopy(dst, src []byte) {
	if len(src) < streamMin || len(dst) < len(src) || !canStream {
		copy(dst, src)
		return
	}
	lead := streamLead(dst)
	copy(dst[:lead], src[:lead])
	body := (len(src) - lead) &^ (streamBlock - 1)
	streamBlocks(dst[lead:lead+body], src[lead:lead+body])
	copy(dst[lead+body:], src[lead+body:])
}

// streamBlock is what streamBlocks copies at a time; it stores to
// 16-byte aligned addresses.
const streamBlock = 64
