//go:build !windows && !mailslot_unit

package daemon_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/mailslot-go/mailslot/daemon"
	"github.com/mailslot-go/mailslot/internal/lab"
	"github.com/mailslot-go/mailslot/internal/stream"
	"github.com/mailslot-go/mailslot/internal/wire"
)

// sendDatagram sends one mailslot datagram from h to dst's datagram port,
// with the NetBIOS source name src taken as raw bytes (an attacker's
// choice: control characters and all).
func sendDatagram(h *lab.Host, dst netip.Addr, dstName string, src [15]byte, id uint16, path string, data []byte) error {
	var sb [16]byte
	copy(sb[:], src[:])
	d := wire.Datagram{
		Type: wire.DirectUnique, Flags: wire.NewDatagramFlags(wire.BNode) | wire.FlagFirst, ID: id,
		SourceIP: h.Addr, SourcePort: 138, SourceName: wire.NameFromBytes(sb),
		DestinationName: wire.MustName(dstName, 0x03),
	}
	mw := wire.MailslotWrite{Name: `\MAILSLOT\` + path, Class: wire.ClassUnreliable, Timeout: 1000, Data: data}
	b, err := wire.AppendMailslotDatagram(nil, &d, &mw)
	if err != nil {
		return err
	}
	return h.Run(func() error {
		c, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(dst, 138)))
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.Write(b)
		return err
	})
}

// sendStream writes one record over the stream port from h, with the
// Source an attacker chose, and returns the daemon's answer.
func sendStream(h *lab.Host, dst netip.Addr, path, source string, data []byte) (stream.Response, error) {
	var resp stream.Response
	err := h.Run(func() error {
		c, err := net.DialTimeout("tcp", netip.AddrPortFrom(dst, 1138).String(), 5*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		req, err := stream.AppendRequest(nil, &stream.Request{Name: path, Source: source, Data: data})
		if err != nil {
			return err
		}
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Write(req); err != nil {
			return err
		}
		resp, err = stream.ReadResponse(c)
		return err
	})
	return resp, err
}

// scrape fetches /metrics from addr inside h and parses it with the
// Prometheus text parser.
func scrape(h *lab.Host, addr string) (map[string]*dto.MetricFamily, error) {
	var c net.Conn
	if err := h.Run(func() (err error) {
		c, err = net.DialTimeout("tcp", addr, 5*time.Second) // the socket is the host's
		return err
	}); err != nil {
		return nil, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := fmt.Fprintf(c, "GET /metrics HTTP/1.1\r\nHost: %s\r\nAccept: text/plain;version=0.0.4\r\nConnection: close\r\n\r\n", addr); err != nil {
		return nil, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	return p.TextToMetricFamilies(resp.Body)
}

// metric returns the value of the sample of family name whose labels
// include want (label=value pairs), and whether there is one.
func metric(mfs map[string]*dto.MetricFamily, name string, want ...string) (float64, bool) {
	mf := mfs[name]
	if mf == nil {
		return 0, false
	}
next:
	for _, m := range mf.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		for i := 0; i+1 < len(want); i += 2 {
			if labels[want[i]] != want[i+1] {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Untyped != nil:
			return m.Untyped.GetValue(), true
		}
	}
	return 0, false
}

// waitMetrics scrapes until every expectation holds (a sample and its
// value), or fails after a deadline with the last scrape's differences.
func waitMetrics(t *testing.T, h *lab.Host, addr string, want map[string]float64) map[string]*dto.MetricFamily {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		mfs, err := scrape(h, addr)
		var bad []string
		if err != nil {
			bad = append(bad, err.Error())
		} else {
			for key, v := range want {
				f := strings.Split(key, " ")
				got, ok := metric(mfs, f[0], f[1:]...)
				if !ok || got != v {
					bad = append(bad, fmt.Sprintf("%s = %v (present %v), want %v", key, got, ok, v))
				}
			}
		}
		if len(bad) == 0 {
			return mfs
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics at %s:\n%s", addr, strings.Join(bad, "\n"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestOperatorView runs the real mailslotd with a config file and
// metrics on a LAN host and plays an attacker and an operator against it:
// hostile sender names reach slots printable, /metrics (parsed with the
// Prometheus text parser) and `mailslot status` count what is delivered
// and dropped, SIGHUP changes what can change and names the rest, and
// both binaries tell their version.
func TestOperatorView(t *testing.T) {
	t.Setenv("MAILSLOT_NO_DNS", "1")
	l := lab.New(t)
	a, b := l.AddHost("HOSTA"), l.AddHost("HOSTB")
	metricsAddr := netip.AddrPortFrom(b.Addr, 9138).String()
	conf := filepath.Join(t.TempDir(), "mailslotd.conf")
	writeConf := func(text string) {
		t.Helper()
		if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeConf(fmt.Sprintf("# mailslotd for the operator test\nname = HOSTB\nworkgroup = WGA\nlog-level = debug\ndedup-window = 2s\nmetrics-listen = %s\n", metricsAddr))
	d := b.Start(t, buildDaemon(t), "--config", conf)
	if !d.WaitFor("mailslotd serving", 10*time.Second) {
		t.Fatalf("mailslotd did not start:\n%s", d.Output())
	}
	rx := startReader(t, b, `\\.\mailslot\ops\x`)
	startReader(t, b, `\\.\mailslot\ops\local`, "MAILSLOT_TEST_LOCAL_ONLY=1")

	mfs := waitMetrics(t, b, metricsAddr, map[string]float64{
		"mailslotd_records_total outcome delivered": 0,
		"mailslotd_datagrams_total outcome for_us":  0,
		"mailslotd_stream_connections":              0,
	})
	if v, ok := metric(mfs, "mailslotd_build_info"); !ok || v != 1 {
		t.Fatalf("no mailslotd_build_info: %v", mfs["mailslotd_build_info"])
	}
	if _, ok := metric(mfs, "go_goroutines"); !ok {
		t.Fatal("no Go runtime metrics")
	}

	t.Run("hostile names are printable", func(t *testing.T) {
		var evil [15]byte
		copy(evil[:], "\x1b[2J\x1b[31m\nX\u202e") // 15 bytes: clear, red, newline, right-to-left
		for i := 0; i < 3; i++ {
			if err := sendDatagram(a, b.Addr, "HOSTB", evil, uint16(100+i), `ops\x`, []byte(fmt.Sprintf("evil datagram %d", i))); err != nil {
				t.Fatal(err)
			}
		}
		// A Source of the stream's maximum, 255 bytes, mostly escapes.
		source := strings.Repeat("\x1b[2J", 63) + "EVL"
		resp, err := sendStream(a, b.Addr, `ops\x`, source, []byte("evil stream record"))
		if err != nil || resp.Status != stream.OK {
			t.Fatalf("stream write: %+v, %v", resp, err)
		}
		for i := 0; i < 3; i++ {
			waitRecv(t, rx, fmt.Sprintf("evil datagram %d", i))
		}
		waitRecv(t, rx, "evil stream record")
		out := rx.Output()
		if strings.ContainsAny(out, "\x1b\u202e") {
			t.Fatalf("a control character reached the slot's From:\n%q", out)
		}
		var dgram, strm string
		for _, line := range received(rx) {
			if strings.Contains(line, "evil datagram 0") {
				dgram = line
			}
			if strings.Contains(line, "evil stream record") {
				strm = line
			}
		}
		wantFrom := `\\\x1b[2J\x1b[31m\nX\u202e (` + a.Addr.String() + ":"
		if !strings.Contains(dgram, " "+wantFrom) {
			t.Errorf("datagram's From: %q, want %q", dgram, wantFrom)
		}
		// RECV size sum FROM | data: the From holds the whole address.
		from := strm[strings.Index(strm, `\\`):strings.LastIndex(strm, " | ")]
		if len(from) > 255 || !strings.HasPrefix(from, `\\\x1b[2J`) || !strings.HasSuffix(from, "... ("+a.Addr.String()+":"+from[strings.LastIndex(from, ":")+1:]) {
			t.Errorf("stream record's From (%d bytes): %q", len(from), from)
		}
		if !strings.Contains(from, "("+a.Addr.String()+":") {
			t.Errorf("stream record's From lost the address: %q", from)
		}
	})

	t.Run("messenger prints nothing a terminal acts on", func(t *testing.T) {
		m := b.Start(t, buildCmd(t, "mailslot"), "messenger", "--no-notify", "--count", "1", "--codepage", "utf-8")
		waitServed(t, b, `\\.\mailslot\messngr`)
		var evil [15]byte
		copy(evil[:], "\x1b]0;pwned\x07\u202eAB")
		record := "BOSS\x1b[31m\x00PC7\x00hello\x1b[2J\u202e\u200f\nsecond\tline\x1b[0m"
		if err := sendDatagram(a, b.Addr, "HOSTB", evil, 500, "MESSNGR", []byte(record)); err != nil {
			t.Fatal(err)
		}
		if err := m.Wait(10 * time.Second); err != nil {
			t.Fatalf("messenger: %v\n%s", err, m.Output())
		}
		out := m.Output()
		if strings.ContainsAny(out, "\x1b\x07\u202e\u200f") {
			t.Fatalf("the messenger printed a character a terminal acts on:\n%q", out)
		}
		if !strings.Contains(out, `(\\\x1b]0;pwned\x07\u202eAB (`+a.Addr.String()+":") || !strings.Contains(out, "\n  second\tline") {
			t.Fatalf("the messenger printed:\n%s", out)
		}
	})

	t.Run("metrics move", func(t *testing.T) {
		var src [15]byte
		copy(src[:], "HOSTA          ")
		for i := 0; i < 2; i++ {
			if err := sendDatagram(a, b.Addr, "HOSTB", src, uint16(200+i), `ops\local`, []byte(fmt.Sprintf("refused %d", i))); err != nil {
				t.Fatal(err)
			}
		}
		if err := sendDatagram(a, b.Addr, "HOSTB", src, 300, `ops\nobody`, []byte("nobody")); err != nil {
			t.Fatal(err)
		}
		if err := sendDatagram(a, b.Addr, "HOSTB", src, 100, `ops\x`, []byte("copy")); err != nil {
			t.Fatal(err)
		}
		if err := sendDatagram(a, b.Addr, "HOSTB", src, 100, `ops\x`, []byte("copy")); err != nil { // a copy: dropped
			t.Fatal(err)
		}
		if err := sendDatagram(a, b.Addr, "OTHER", src, 400, `ops\x`, []byte("not for B")); err != nil {
			t.Fatal(err)
		}
		waitMetrics(t, b, metricsAddr, map[string]float64{
			"mailslotd_datagrams_total outcome for_us":                      9, // 3 evil, messenger, 2 refused, nobody, copy twice
			"mailslotd_datagrams_total outcome not_for_us":                  1,
			"mailslotd_dedup_hits_total":                                    1,
			"mailslotd_records_total outcome delivered":                     6, // 3 evil datagrams, 1 stream, messenger, 1 copy
			"mailslotd_records_total outcome local_only":                    2,
			"mailslotd_records_total outcome no_slot":                       1,
			"mailslotd_stream_records_total":                                1,
			`mailslotd_slot_records_total slot ops\x outcome delivered`:     5,
			`mailslotd_slot_records_total slot ops\x outcome dropped`:       0,
			`mailslotd_slot_records_total slot ops\local outcome dropped`:   2,
			`mailslotd_slot_records_total slot ops\local outcome delivered`: 0,
			"mailslotd_relay_slots":                                         2,
		})
		if _, ok := metric(mustScrape(t, b, metricsAddr), "mailslotd_slot_records_total", "slot", `ops\nobody`); ok {
			t.Error("a slot nobody serves got a label: slot names from the network would be unbounded")
		}
	})

	t.Run("status", func(t *testing.T) {
		bin := buildCmd(t, "mailslot")
		out, err := b.Command(bin, "status", "--json").CombinedOutput()
		if err != nil {
			t.Fatalf("mailslot status --json: %v\n%s", err, out)
		}
		var st daemon.Status
		if err := json.Unmarshal(out, &st); err != nil {
			t.Fatalf("status --json: %v\n%s", err, out)
		}
		if st.Name != "HOSTB" || st.Workgroup != "WGA" || st.Stats.Delivered != 6 || st.Stats.LocalOnly != 2 || st.DgramPort != 138 ||
			len(st.Interfaces) != 1 || st.Interfaces[0].Addr != b.Addr.String() || time.Duration(st.DedupWindow) != 2*time.Second || st.SlotsHidden {
			t.Fatalf("status: %+v", st)
		}
		if len(st.Slots) != 3 || st.Slots[0].Path != `ops\x` || st.Slots[0].Delivered != 5 || st.Slots[1].Path != `ops\local` || st.Slots[1].Dropped != 2 || st.Slots[2].Path != "MESSNGR" {
			t.Fatalf("status slots: %+v", st.Slots)
		}
		out, err = b.Command(bin, "status").CombinedOutput()
		if err != nil {
			t.Fatalf("mailslot status: %v\n%s", err, out)
		}
		text := string(out)
		words := strings.Join(strings.Fields(text), " ")
		for _, want := range []string{"computer HOSTB", "interface " + b.Iface + " " + b.Addr.String(), "records delivered 6", "local-only slot 2", "ports name 137/udp, datagram 138/udp, stream 1138/tcp"} {
			if !strings.Contains(words, want) {
				t.Errorf("mailslot status does not say %q:\n%s", want, text)
			}
		}
		if !strings.Contains(text, "SLOT       DELIVERED  DROPPED  QUEUED\nops\\x      5          0        0\nops\\local  0          2        0\nMESSNGR    1          0        0\n") {
			t.Errorf("mailslot status slots:\n%s", text)
		}
		// Another user sees the counters, not the slots.
		// The JSON is standard output alone (a coverage build may say
		// things on standard error).
		asNobody := b.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", bin, "status", "--json")
		var stderr strings.Builder
		asNobody.Stderr = &stderr
		out, err = asNobody.Output()
		if err != nil {
			t.Fatalf("mailslot status as nobody: %v\n%s%s", err, out, stderr.String())
		}
		st = daemon.Status{}
		if err := json.Unmarshal(out, &st); err != nil || !st.SlotsHidden || len(st.Slots) != 0 || st.Stats.Delivered != 6 {
			t.Fatalf("status as nobody: %+v, %v\n%s", st, err, out)
		}
	})

	t.Run("sighup", func(t *testing.T) {
		newAddr := netip.AddrPortFrom(b.Addr, 9139).String()
		writeConf(fmt.Sprintf("name = HOSTZ\nworkgroup = WGA\nlog-level = info\ndedup-window = 250ms\nmetrics-listen = %s\n", newAddr))
		if err := d.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{
			`msg="reload: key name changed; takes effect after restart" key=name running=HOSTB config=HOSTZ`,
			`msg="reload: key log-level changed" key=log-level from=debug to=info`,
			`msg="reload: key dedup-window changed" key=dedup-window from=2s to=250ms`,
			`msg="reload: key metrics-listen changed"`,
		} {
			if !d.WaitFor(want, 10*time.Second) {
				t.Fatalf("mailslotd did not log %q:\n%s", want, d.Output())
			}
		}
		waitMetrics(t, b, newAddr, map[string]float64{"mailslotd_records_total outcome delivered": 6})
		if _, err := scrape(b, metricsAddr); err == nil {
			t.Error("the old metrics address still answers")
		}
		var st daemon.Status
		out, err := b.Command(buildCmd(t, "mailslot"), "status", "--json").Output()
		if err := json.Unmarshal(out, &st); err != nil || time.Duration(st.DedupWindow) != 250*time.Millisecond || st.Name != "HOSTB" {
			t.Fatalf("status after SIGHUP: %+v, %v", st, err)
		}
		_ = err
		// At info level the debug lines stop: a malformed datagram is
		// counted, not logged.
		before := strings.Count(d.Output(), "dropped datagram")
		if err := a.Run(func() error {
			c, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(b.Addr, 138)))
			if err != nil {
				return err
			}
			defer c.Close()
			_, err = c.Write([]byte("junk"))
			return err
		}); err != nil {
			t.Fatal(err)
		}
		waitMetrics(t, b, newAddr, map[string]float64{"mailslotd_datagrams_total outcome malformed": 1})
		if after := strings.Count(d.Output(), "dropped datagram"); after != before {
			t.Errorf("debug lines logged at level info: %d, were %d", after, before)
		}
		// A config file with a mistake changes nothing and says where.
		writeConf("log-level = debug\ndedup-window = soon\n")
		if err := d.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		if !d.WaitFor(conf+":2: dedup-window: bad setting", 10*time.Second) || !strings.Contains(d.Output(), "reload: config not taken, nothing changed") {
			t.Fatalf("mailslotd did not report the bad config:\n%s", d.Output())
		}
		waitMetrics(t, b, newAddr, map[string]float64{"mailslotd_records_total outcome delivered": 6})
	})

	t.Run("bad config at start", func(t *testing.T) {
		bad := filepath.Join(t.TempDir(), "bad.conf")
		if err := os.WriteFile(bad, []byte("name = HOSTC\n\nworkgroup = WGA\ndgram-prot = 138\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := b.Command(buildDaemon(t), "--config", bad).CombinedOutput()
		want := "mailslotd: " + bad + ":4: dgram-prot: bad setting: unknown key (known: name, workgroup, "
		if code := exitCode(err); code != 2 || !strings.HasPrefix(string(out), want) {
			t.Fatalf("mailslotd with an unknown key: exit %d\n%s\nwant it to start %q", code, out, want)
		}
	})

	t.Run("version", func(t *testing.T) {
		for _, bin := range []string{buildDaemon(t), buildCmd(t, "mailslot")} {
			out, err := b.Command(bin, "--version").CombinedOutput()
			name := filepath.Base(bin)
			if err != nil || !strings.HasPrefix(string(out), name+" ") || !strings.Contains(string(out), " go1.") || !strings.Contains(string(out), "github.com/mailslot-go/mailslot") {
				t.Errorf("%s --version: %v\n%s", name, err, out)
			}
		}
	})
}

func mustScrape(t *testing.T, h *lab.Host, addr string) map[string]*dto.MetricFamily {
	t.Helper()
	mfs, err := scrape(h, addr)
	if err != nil {
		t.Fatal(err)
	}
	return mfs
}

// exitCode is a command's exit status (-1 when it did not run).
func exitCode(err error) int {
	var ee *exec.ExitError
	if err == nil {
		return 0
	}
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1
}
