package mailslot_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailslot-go/mailslot"
)

// The test binary re-executes itself to play other processes: the helper
// named in MAILSLOT_TEST_HELPER runs instead of the tests.
func TestMain(m *testing.M) {
	if h := os.Getenv("MAILSLOT_TEST_HELPER"); h != "" {
		os.Exit(runHelper(h, os.Args[len(os.Args)-1]))
	}
	os.Exit(m.Run())
}

func runHelper(role, arg string) int {
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 2
	}
	switch role {
	case "serve": // create arg, say "ready", block until killed
		s, err := mailslot.Create(arg)
		if err != nil {
			fmt.Println("error:", err)
			return 1
		}
		defer s.Close()
		fmt.Println("ready")
		select {}
	case "write": // open arg, write N records "w<pid>-<i>"
		n, _ := strconv.Atoi(os.Getenv("MAILSLOT_TEST_COUNT"))
		c, err := mailslot.Open(arg)
		if err != nil {
			fmt.Println("error:", err)
			if errors.Is(err, mailslot.ErrPermission) {
				return 13
			}
			return 1
		}
		defer c.Close()
		for i := 0; i < n; i++ {
			if _, err := c.Write([]byte(fmt.Sprintf("w%d-%d", os.Getpid(), i))); err != nil {
				return fail(err)
			}
		}
		return 0
	case "adopt": // take over the slot handed to this process, print every record until n
		n, _ := strconv.Atoi(os.Getenv("MAILSLOT_TEST_COUNT"))
		s, err := mailslot.FileSlot(handedFile())
		if err != nil {
			return fail(err)
		}
		defer s.Close()
		fmt.Println("adopted", s.Name())
		buf := make([]byte, 1024)
		s.SetReadTimeout(5 * time.Second)
		for i := 0; i < n; i++ {
			k, err := s.Read(buf)
			if err != nil {
				fmt.Fprintf(os.Stderr, "stats %+v\n", s.Stats())
				return fail(err)
			}
			fmt.Printf("%s\n", buf[:k])
		}
		return 0
	}
	if code, ok := platformHelper(role, arg); ok {
		return code
	}
	return fail(fmt.Errorf("unknown helper %q", role))
}

// helper starts this test binary as another process in the given role.
func helper(t *testing.T, role, arg string, env ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$", arg)
	cmd.Env = append(append(os.Environ(), "MAILSLOT_TEST_HELPER="+role), env...)
	return cmd
}

// What Wine (8, Debian 12's wine64), which runs this package's Windows
// tests in CI, lacks of Windows' mailslots. lacks names the one a check
// needs and reports whether this run lacks it: on Linux and on real
// Windows, never.
const (
	lackMessageCount        = "GetMailslotInfo's message count: Wine 8 reports 1 however many records wait"
	lackTooSmall            = "ERROR_INSUFFICIENT_BUFFER: Wine 8's ReadFile cuts a record to the buffer, drops the rest, and succeeds"
	lackMaxMessageSize      = "the maximum message size: Wine 8's WriteFile queues a record over it"
	lackEmptyRecords        = "zero-length records: Wine 8's WriteFile queues one, and ReadFile then fails with ERROR_BROKEN_PIPE"
	lackGoneServer          = "failing a write once the server has gone: Wine 8's WriteFile succeeds and the record is lost"
	lackNameFreeWithClients = "freeing the name when the last server handle closes: Wine 8 keeps it while any client handle is open"
	lackBigRecords          = "records over 64 KiB: Wine 8's ReadFile returns only their first 65536 bytes"
	lackCancel              = "cancelling a blocked read: Wine 8's ReadFile on a mailslot blocks even on an overlapped handle, and neither CancelIoEx nor CancelSynchronousIo ends it"
)

// uniq returns a slot name no other test uses.
func uniq(t *testing.T) string {
	return fmt.Sprintf(`\\.\mailslot\test\%d\%s`, os.Getpid(), t.Name())
}

// goroutines counts the goroutines, less the one a serving process keeps
// for good to hold its page that says it lives (internal/local/alive.go),
// which the first slot of the process starts.
func goroutines() int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	return bytes.Count(buf, []byte("\ngoroutine ")) + 1 - bytes.Count(buf, []byte("local.holdAlive("))
}

// checkNoLeak fails the test if goroutines started during it outlive it.
func checkNoLeak(t *testing.T) {
	before := goroutines()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for {
			now := goroutines()
			if now <= before {
				return
			}
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<16)
				buf = buf[:runtime.Stack(buf, true)]
				t.Errorf("%d goroutines before, %d after Close:\n%s", before, now, buf)
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

func mustCreate(t *testing.T, name string, opts ...mailslot.Option) *mailslot.Slot {
	t.Helper()
	s, err := mailslot.Create(name, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func mustOpen(t *testing.T, name string, opts ...mailslot.Option) *mailslot.Client {
	t.Helper()
	c, err := mailslot.Open(name, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestParseName(t *testing.T) {
	long := strings.Repeat("a", 256)
	for _, tc := range []struct {
		in       string
		host     string
		path     string
		canon    string
		wantFail bool
	}{
		{in: `\\.\mailslot\x`, host: ".", path: "x", canon: `\\.\mailslot\x`},
		{in: `//./mailslot/a/b`, host: ".", path: `a\b`, canon: `\\.\mailslot\a\b`},
		{in: `\\.\MAILSLOT\Dir\Name`, host: ".", path: `Dir\Name`, canon: `\\.\mailslot\Dir\Name`},
		{in: `\\server\mailslot\messngr`, host: "SERVER", path: "messngr", canon: `\\SERVER\mailslot\messngr`},
		{in: `\\*\mailslot\browse`, host: "*", path: "browse", canon: `\\*\mailslot\browse`},
		{in: `\\labgroup\mailslot\x`, host: "LABGROUP", path: "x", canon: `\\LABGROUP\mailslot\x`},
		{in: `\\.\mailslot\` + strings.Repeat("a", 255), host: ".", path: strings.Repeat("a", 255), canon: `\\.\mailslot\` + strings.Repeat("a", 255)},
		{in: ``, wantFail: true},
		{in: `\\.\mailslot\`, wantFail: true},
		{in: `\\.\mailslot`, wantFail: true},
		{in: `\\.\pipe\x`, wantFail: true},
		{in: `\.\mailslot\x`, wantFail: true},
		{in: `C:\mailslot\x`, wantFail: true},
		{in: `\\\mailslot\x`, wantFail: true},
		{in: `\\.\mailslot\a\\b`, wantFail: true},
		{in: `\\.\mailslot\a\`, wantFail: true},
		{in: "\\\\.\\mailslot\\a\x00b", wantFail: true},
		{in: `\\.\mailslot\` + long, wantFail: true},
		{in: `\\bad:host\mailslot\x`, wantFail: true},
	} {
		n, err := mailslot.ParseName(tc.in)
		if tc.wantFail {
			if !errors.Is(err, mailslot.ErrInvalidName) {
				t.Errorf("ParseName(%q) = %v, %v; want ErrInvalidName", tc.in, n, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseName(%q): %v", tc.in, err)
			continue
		}
		if n.Host != tc.host || n.Path != tc.path || n.String() != tc.canon {
			t.Errorf("ParseName(%q) = %+v (%s), want host %q path %q (%s)", tc.in, n, n, tc.host, tc.path, tc.canon)
		}
	}
}

func TestCreateRejectsBadNames(t *testing.T) {
	for _, name := range []string{`\\SERVER\mailslot\x`, `\\*\mailslot\x`, `\\.\mailslot\`, "\\\\.\\mailslot\\x\x00", `x`, `\\.\mailslot\` + strings.Repeat("b", 256)} {
		s, err := mailslot.Create(name)
		if !errors.Is(err, mailslot.ErrInvalidName) {
			if s != nil {
				s.Close()
			}
			t.Errorf("Create(%q) = %v, want ErrInvalidName", name, err)
		}
		var me *mailslot.Error
		if err != nil && (!errors.As(err, &me) || me.Op != "create" || me.Name != name) {
			t.Errorf("Create(%q) error %#v does not name the operation and slot", name, err)
		}
	}
}

func TestOneServerPerName(t *testing.T) {
	checkNoLeak(t)
	name := uniq(t)
	s := mustCreate(t, name)
	upper := strings.ToUpper(name)
	upper = strings.Replace(upper, `\MAILSLOT\`, `\mailslot\`, 1)
	if _, err := mailslot.Create(upper); !errors.Is(err, mailslot.ErrAlreadyExists) || !errors.Is(err, fs.ErrExist) {
		t.Fatalf("second Create(%q) = %v, want ErrAlreadyExists", upper, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); !errors.Is(err, mailslot.ErrClosed) {
		t.Fatalf("second Close = %v, want ErrClosed", err)
	}
	s2, err := mailslot.Create(upper)
	if err != nil {
		t.Fatalf("Create after Close: %v", err)
	}
	s2.Close()
}

func TestOneServerAcrossProcessesAndKill9(t *testing.T) {
	name := uniq(t)
	cmd := helper(t, "serve", name)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line, _ := bufio.NewReader(out).ReadString('\n')
	if line != "ready\n" {
		t.Fatalf("helper said %q", line)
	}
	if _, err := mailslot.Create(strings.ToUpper(name[:13]) + name[13:]); !errors.Is(err, mailslot.ErrAlreadyExists) {
		t.Fatalf("Create of a name another process serves = %v, want ErrAlreadyExists", err)
	}
	c := mustOpen(t, name)
	if _, err := c.Write([]byte("to the other process")); err != nil {
		t.Fatalf("write to the other process's slot: %v", err)
	}
	cmd.Process.Kill() // SIGKILL on Unix, TerminateProcess on Windows
	cmd.Wait()
	if lacks(t, lackNameFreeWithClients) {
		// Wine frees the name once no client handle is open either.
		checkGoneWrite(t, c)
		c.Close()
	}
	// The name is free at once: no stale file, nothing to clean.
	s, err := mailslot.Create(name)
	if err != nil {
		t.Fatalf("Create after the server was killed: %v", err)
	}
	defer s.Close()
	// The old client's slot is gone: its write must fail, never succeed silently.
	checkGoneWrite(t, c)
	if info := mustInfo(t, s); info.MessageCount != 0 {
		t.Fatalf("new slot got %d records meant for the dead one", info.MessageCount)
	}
}

func TestOpenNotFound(t *testing.T) {
	_, err := mailslot.Open(uniq(t))
	if !errors.Is(err, mailslot.ErrNotFound) || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Open with no server = %v, want ErrNotFound", err)
	}
	if !strings.Contains(err.Error(), uniq(t)) {
		t.Fatalf("error %q does not name the slot", err)
	}
}

func TestRecordsKeepBoundariesAndOrder(t *testing.T) {
	checkNoLeak(t)
	name := uniq(t)
	s := mustCreate(t, name)
	c := mustOpen(t, name)
	recs := [][]byte{[]byte("one"), {}, []byte("three is longer"), bytes.Repeat([]byte{0}, 10), {}}
	if lacks(t, lackEmptyRecords) {
		recs = [][]byte{[]byte("one"), []byte("three is longer"), bytes.Repeat([]byte{0}, 10)}
	}
	for _, r := range recs {
		if n, err := c.Write(r); err != nil || n != len(r) {
			t.Fatalf("Write(%q) = %d, %v", r, n, err)
		}
	}
	buf := make([]byte, 100)
	for i, want := range recs {
		n, err := s.Read(buf)
		if err != nil || !bytes.Equal(buf[:n], want) {
			t.Fatalf("record %d = %q, %v; want %q", i, buf[:n], err, want)
		}
	}
}

func TestManyWritersManyProcesses(t *testing.T) {
	checkNoLeak(t)
	name := uniq(t)
	s := mustCreate(t, name)
	const procs, per = 4, 300
	var cmds []*exec.Cmd
	for i := 0; i < procs; i++ {
		cmd := helper(t, "write", name, "MAILSLOT_TEST_COUNT="+strconv.Itoa(per))
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	// And goroutines of this process, at the same time.
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := mailslot.Open(name)
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			for i := 0; i < per; i++ {
				if _, err := c.Write([]byte(fmt.Sprintf("g%d-%d", g, i))); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	next := map[string]int{}
	pids := map[int]bool{os.Getpid(): true}
	for _, cmd := range cmds {
		pids[cmd.Process.Pid] = true
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for i := 0; i < (procs+4)*per; i++ {
		m, err := s.ReadMessage(ctx)
		if err != nil {
			t.Fatalf("after %d records: %v", i, err)
		}
		writer, seq, _ := strings.Cut(string(m.Data), "-")
		k, _ := strconv.Atoi(seq)
		if k != next[writer] {
			t.Fatalf("writer %s: record %d arrived when %d was due (order broken)", writer, k, next[writer])
		}
		next[writer]++
		checkFrom(t, m.From, pids)
		if m.Time.IsZero() || time.Since(m.Time) > time.Minute {
			t.Fatalf("Time = %v", m.Time)
		}
	}
	wg.Wait()
	for _, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("writer process: %v", err)
		}
	}
	if info := mustInfo(t, s); info.MessageCount != 0 {
		t.Fatalf("%d records left over", info.MessageCount)
	}
}

func TestReadTimeouts(t *testing.T) {
	checkNoLeak(t)
	name := uniq(t)
	s := mustCreate(t, name, mailslot.WithReadTimeout(0))
	buf := make([]byte, 10)
	if _, err := s.Read(buf); !errors.Is(err, mailslot.ErrTimeout) || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read on empty slot with timeout 0 = %v, want ErrTimeout", err)
	}
	var ne interface{ Timeout() bool }
	if _, err := s.Read(buf); !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("timeout error %v has no Timeout() == true", err)
	}
	// A duration waits that long, then times out.
	s.SetReadTimeout(30 * time.Millisecond)
	start := time.Now()
	if _, err := s.Read(buf); !errors.Is(err, mailslot.ErrTimeout) {
		t.Fatalf("Read with 30ms timeout = %v", err)
	}
	if el := time.Since(start); el < 30*time.Millisecond-clockStep {
		t.Fatalf("Read returned after %v, before its timeout", el)
	}
	// A blocked read (forever) is completed by the next write.
	s.SetReadTimeout(mailslot.WaitForever)
	c := mustOpen(t, name)
	got := make(chan string, 1)
	go func() {
		b := make([]byte, 10)
		n, err := s.Read(b)
		if err != nil {
			got <- err.Error()
			return
		}
		got <- string(b[:n])
	}()
	waitBlocked(t)
	c.Write([]byte("wake"))
	if r := <-got; r != "wake" {
		t.Fatalf("blocked read got %q", r)
	}
	// SetReadTimeout applies to reads already blocked, where the system
	// allows it (not on Windows: see checkTimeoutOfBlockedRead).
	checkTimeoutOfBlockedRead(t, s, c)
	info := mustInfo(t, s)
	if info.ReadTimeout != 0 {
		t.Fatalf("Info().ReadTimeout = %v", info.ReadTimeout)
	}
	// Close completes a blocked read with ErrClosed.
	if lacks(t, lackCancel) {
		return
	}
	s.SetReadTimeout(mailslot.WaitForever)
	errc := startBlockedRead(t, s)
	s.Close()
	if err := <-errc; !errors.Is(err, mailslot.ErrClosed) {
		t.Fatalf("blocked read after Close = %v, want ErrClosed", err)
	}
}

// startBlockedRead starts a Read on s in a goroutine, waits until it is
// blocked, and returns the channel its error comes on.
func startBlockedRead(t *testing.T, s *mailslot.Slot) <-chan error {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		_, err := s.Read(make([]byte, 10))
		errc <- err
	}()
	waitBlocked(t)
	return errc
}

// waitBlocked waits until a goroutine sleeps in a slot's Read (not
// merely spinning in it).
func waitBlocked(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	buf := make([]byte, 1<<20)
	for {
		buf = buf[:runtime.Stack(buf[:cap(buf)], true)]
		for _, g := range strings.Split(string(buf), "\n\n") {
			state, _, _ := strings.Cut(g, "\n")
			sleeping := strings.Contains(state, "[select") || strings.Contains(state, "[IO wait") || strings.Contains(state, "[syscall")
			if sleeping && strings.Contains(g, blockedReadFrame) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no Read blocked on the slot within 5 s:\n%s", buf)
		}
		time.Sleep(time.Millisecond)
	}
}

// mustInfo returns the slot's Info, failing the test on an error.
func mustInfo(t *testing.T, s *mailslot.Slot) mailslot.Info {
	t.Helper()
	info, err := s.Info()
	if err != nil {
		t.Fatalf("Info: %v", err)
	}
	return info
}

func TestReadMessageContext(t *testing.T) {
	checkNoLeak(t)
	name := uniq(t)
	s := mustCreate(t, name)
	if !lacks(t, lackCancel) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		if _, err := s.ReadMessage(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("ReadMessage with expired context = %v", err)
		}
	}
	c := mustOpen(t, name)
	before := time.Now()
	c.Write([]byte("payload"))
	m, err := s.ReadMessage(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := fromLocal(os.Getpid())
	if string(m.Data) != "payload" || m.From != want || m.Time.Before(before.Add(-time.Second)) || m.Time.After(time.Now()) {
		t.Fatalf("message = %q from %q at %v; want payload from %q", m.Data, m.From, m.Time, want)
	}
}

func TestBufferTooSmallKeepsRecord(t *testing.T) {
	name := uniq(t)
	s := mustCreate(t, name, mailslot.WithReadTimeout(0))
	c := mustOpen(t, name)
	c.Write([]byte("0123456789"))
	if !lacks(t, lackTooSmall) {
		if _, err := s.Read(make([]byte, 4)); !errors.Is(err, mailslot.ErrBufferTooSmall) {
			t.Fatalf("small read = %v, want ErrBufferTooSmall", err)
		}
	}
	info := mustInfo(t, s)
	if info.NextSize != 10 || info.MessageCount != 1 {
		t.Fatalf("after a small read Info = %+v, want the record kept", info)
	}
	buf := make([]byte, info.NextSize)
	if n, err := s.Read(buf); err != nil || string(buf[:n]) != "0123456789" {
		t.Fatalf("read = %q, %v", buf[:n], err)
	}
	if lacks(t, lackEmptyRecords) {
		return
	}
	// A nil buffer can read a zero-length record and nothing else.
	c.Write(nil)
	if n, err := s.Read(nil); n != 0 || err != nil {
		t.Fatalf("Read(nil) of an empty record = %d, %v", n, err)
	}
}

func TestInfoIsExact(t *testing.T) {
	name := uniq(t)
	s := mustCreate(t, name, mailslot.WithMaxMessageSize(500), mailslot.WithReadTimeout(3*time.Second))
	info, err := s.Info()
	if err != nil {
		t.Fatal(err)
	}
	if info != (mailslot.Info{MaxMessageSize: 500, NextSize: mailslot.NoMessage, MessageCount: 0, ReadTimeout: 3 * time.Second}) {
		t.Fatalf("empty Info = %+v", info)
	}
	c := mustOpen(t, name)
	for i := 1; i <= 57; i++ {
		c.Write(make([]byte, i))
		// Every completed write is counted, immediately.
		info = mustInfo(t, s)
		if (info.MessageCount != i && !lacks(t, lackMessageCount)) || info.NextSize != 1 {
			t.Fatalf("after %d writes Info = %+v", i, info)
		}
	}
	s.Read(make([]byte, 100))
	if info = mustInfo(t, s); (info.MessageCount != 56 && !lacks(t, lackMessageCount)) || info.NextSize != 2 {
		t.Fatalf("after one read Info = %+v", info)
	}
}

func TestMessageSizes(t *testing.T) {
	name := uniq(t)
	s := mustCreate(t, name, mailslot.WithMaxMessageSize(100), mailslot.WithReadTimeout(0))
	c := mustOpen(t, name)
	// Where a client learns the slot's maximum, Write refuses a larger
	// record before it sends it; on Windows, WriteFile refuses it.
	if want := clientSeesMax(100); c.MaxMessageSize() != want {
		t.Fatalf("client sees max %d, want %d", c.MaxMessageSize(), want)
	}
	if lacks(t, lackMaxMessageSize) {
		// Wine queues the oversize record: skip it.
		c.Write(make([]byte, 101))
		s.Read(make([]byte, 101))
	} else if _, err := c.Write(make([]byte, 101)); !errors.Is(err, mailslot.ErrMessageTooLarge) {
		t.Fatalf("oversize write = %v", err)
	}
	if _, err := c.Write(make([]byte, 100)); err != nil {
		t.Fatal(err)
	}
	if info := mustInfo(t, s); info.MessageCount != 1 {
		t.Fatalf("oversize write queued something: %+v", info)
	}

	// 64 KiB records work with the default maximum.
	big := uniq(t) + "big"
	s2 := mustCreate(t, big)
	c2 := mustOpen(t, big)
	rec := bytes.Repeat([]byte("0123456789abcdef"), mailslot.MaxLocalMessageSize/16)
	if _, err := c2.Write(rec); err != nil {
		t.Fatalf("64 KiB write: %v", err)
	}
	checkOverLocalMax(t, s2, c2, append(rec, 'x'))
	buf := make([]byte, len(rec))
	if n, err := s2.Read(buf); err != nil || !bytes.Equal(buf[:n], rec) {
		t.Fatalf("64 KiB read: %d, %v", n, err)
	}
	if _, err := mailslot.Create(uniq(t)+"neg", mailslot.WithMaxMessageSize(-1)); err == nil {
		t.Fatal("negative max size accepted")
	}
}

func TestUseAfterClose(t *testing.T) {
	checkNoLeak(t)
	name := uniq(t)
	s, _ := mailslot.Create(name)
	c, _ := mailslot.Open(name)
	c.Write([]byte("queued, then discarded"))
	s.Close()
	if _, err := s.Read(make([]byte, 100)); !errors.Is(err, mailslot.ErrClosed) {
		t.Fatalf("Read after Close = %v", err)
	}
	if _, err := s.Info(); !errors.Is(err, mailslot.ErrClosed) {
		t.Fatalf("Info after Close = %v", err)
	}
	if err := s.SetReadTimeout(0); !errors.Is(err, mailslot.ErrClosed) {
		t.Fatalf("SetReadTimeout after Close = %v", err)
	}
	if _, err := s.ReadMessage(context.Background()); !errors.Is(err, mailslot.ErrClosed) {
		t.Fatalf("ReadMessage after Close = %v", err)
	}
	// The server has gone: a write must fail.
	checkGoneWrite(t, c)
	c.Close()
	if _, err := c.Write([]byte("x")); !errors.Is(err, mailslot.ErrClosed) {
		t.Fatalf("write on a closed client = %v, want ErrClosed", err)
	}
	if err := c.Close(); !errors.Is(err, mailslot.ErrClosed) {
		t.Fatalf("second client Close = %v", err)
	}
	// A new server under the same name does not receive the old client's writes.
	s2 := mustCreate(t, name, mailslot.WithReadTimeout(0))
	if info := mustInfo(t, s2); info.MessageCount != 0 {
		t.Fatalf("new slot inherited %d records", info.MessageCount)
	}
}

func TestTransferInProcess(t *testing.T) {
	checkNoLeak(t)
	name := uniq(t)
	s, err := mailslot.Create(name, mailslot.WithMaxMessageSize(1000), mailslot.WithReadTimeout(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	c := mustOpen(t, name)
	for i := 0; i < 5; i++ {
		c.Write([]byte(fmt.Sprint("before ", i)))
	}
	// One record into the memory queue, more still in the kernel: both kinds move.
	mustInfo(t, s)
	for i := 5; i < 8; i++ {
		c.Write([]byte(fmt.Sprint("before ", i)))
	}
	f, err := s.Transfer()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Read(make([]byte, 100)); !errors.Is(err, mailslot.ErrClosed) {
		t.Fatalf("Read on the handed-over slot = %v", err)
	}
	// In flight, the name stays taken and writes still land.
	if _, err := mailslot.Create(name); !errors.Is(err, mailslot.ErrAlreadyExists) {
		t.Fatalf("Create during hand-over = %v", err)
	}
	c.Write([]byte("during"))
	s2, err := mailslot.FileSlot(f)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if s2.Name().String() != name {
		t.Fatalf("adopted slot is named %s", s2.Name())
	}
	info := mustInfo(t, s2)
	if (info.MessageCount != 9 && !lacks(t, lackMessageCount)) || info.MaxMessageSize != 1000 || info.ReadTimeout != time.Second {
		t.Fatalf("adopted Info = %+v", info)
	}
	c.Write([]byte("after"))
	buf := make([]byte, 100)
	for i := 0; i < 10; i++ {
		n, err := s2.Read(buf)
		want := fmt.Sprint("before ", i)
		if i == 8 {
			want = "during"
		} else if i == 9 {
			want = "after"
		}
		if err != nil || string(buf[:n]) != want {
			t.Fatalf("record %d = %q, %v; want %q", i, buf[:n], err, want)
		}
	}
}

func TestTransferToChildProcess(t *testing.T) {
	name := uniq(t)
	s, err := mailslot.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	c := mustOpen(t, name)
	c.Write([]byte("queued before the hand-over"))
	f, err := s.Transfer()
	if err != nil {
		t.Fatal(err)
	}
	cmd := helper(t, "adopt", "x", "MAILSLOT_TEST_COUNT=2")
	passSlot(cmd, f)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// A failing test must not leave the child waiting for records.
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	f.Close() // the child holds the slot now
	r := bufio.NewReader(out)
	line, _ := r.ReadString('\n')
	if line != "adopted "+name+"\n" {
		t.Fatalf("child said %q", line)
	}
	if _, err := mailslot.Create(name); !errors.Is(err, mailslot.ErrAlreadyExists) {
		t.Fatalf("Create while the child holds the slot = %v", err)
	}
	if _, err := c.Write([]byte("written after")); err != nil {
		t.Fatal(err)
	}
	rest, _ := r.ReadString(0)
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	if rest != "queued before the hand-over\nwritten after\n" {
		t.Fatalf("child read %q", rest)
	}
	// The child has exited: the name is free.
	if lacks(t, lackNameFreeWithClients) {
		c.Close()
	}
	s2, err := mailslot.Create(name)
	if err != nil {
		t.Fatalf("Create after the holder exited: %v", err)
	}
	s2.Close()
}

func TestFileSlotRejectsOtherFiles(t *testing.T) {
	// Not in t.TempDir: under Wine 8, Go's RemoveAll fails there
	// (ERROR_INVALID_FUNCTION from the file disposition it asks for).
	f, err := os.CreateTemp("", "mailslot-test-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	if _, err := mailslot.FileSlot(f); err == nil {
		t.Fatal("FileSlot accepted a plain file")
	}
}

func TestConcurrentReadersAndInfo(t *testing.T) {
	checkNoLeak(t)
	name := uniq(t)
	s := mustCreate(t, name, mailslot.WithReadTimeout(5*time.Second))
	c := mustOpen(t, name)
	const n = 2000
	var wg sync.WaitGroup
	var mu sync.Mutex
	seen := map[string]bool{}
	for r := 0; r < 3; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 64)
			for {
				k, err := s.Read(buf)
				if err != nil {
					return
				}
				mu.Lock()
				if seen[string(buf[:k])] {
					t.Errorf("record %q read twice", buf[:k])
				}
				seen[string(buf[:k])] = true
				done := len(seen) == n
				mu.Unlock()
				if done {
					s.SetReadTimeout(0)
				}
				if _, err := s.Info(); err != nil {
					t.Errorf("Info between reads: %v", err)
					return
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		if _, err := c.Write([]byte(strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	if len(seen) != n {
		t.Fatalf("read %d distinct records of %d", len(seen), n)
	}
}

// checkGoneWrite checks that a write to a slot whose server has gone
// fails with ErrNotFound, never succeeding silently.
func checkGoneWrite(t *testing.T, c *mailslot.Client) {
	t.Helper()
	if lacks(t, lackGoneServer) {
		return
	}
	if _, err := c.Write([]byte("lost?")); !errors.Is(err, mailslot.ErrNotFound) {
		t.Fatalf("write to a slot whose server has gone = %v, want ErrNotFound", err)
	}
}
