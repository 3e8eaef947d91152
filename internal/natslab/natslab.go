//go:build !windows

// Package natslab builds sites for tests of the NATS bridge: site LANs
// of lab hosts (package lab), each with a nats-server node of one cluster
// on a host of its own that also joins a backbone LAN where the nodes
// route to each other. A site's hosts reach no other site's hosts: their
// only way out is their node (which forwards no IP).
//
// The nats-server is built from the module in internal/natslab/server
// (which pins its version) once per machine: the binary is kept under
// the Go build cache, by a key of that module's go.mod and go.sum and the
// Go version, so that later runs start at once.
package natslab

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/mailslot-go/mailslot/internal/lab"
)

var (
	buildMu sync.Mutex
	built   string
)

// moduleDir is internal/natslab/server, found beside this file's package
// in the source tree (tests run in their package's directory).
func moduleDir() (string, error) {
	out, err := exec.Command("go", "list", "-f", "{{.Dir}}", "github.com/mailslot-go/mailslot/internal/natslab").Output()
	if err != nil {
		return "", fmt.Errorf("find internal/natslab: %v", err)
	}
	return filepath.Join(strings.TrimSpace(string(out)), "server"), nil
}

// BuildServer returns a nats-server binary, built on the first call on
// this machine (tens of seconds) and kept under GOCACHE after.
func BuildServer(t lab.T) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if built != "" {
		return built
	}
	dir, err := moduleDir()
	if err != nil {
		t.Fatalf("build nats-server: %v", err)
	}
	h := sha256.New()
	for _, f := range []string{"go.mod", "go.sum"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatalf("build nats-server: %v", err)
		}
		h.Write(b)
	}
	gover, _ := exec.Command("go", "env", "GOVERSION").Output()
	h.Write(gover)
	h.Write([]byte(runtime.GOARCH))
	cache, err := exec.Command("go", "env", "GOCACHE").Output()
	if err != nil || strings.TrimSpace(string(cache)) == "" || strings.TrimSpace(string(cache)) == "off" {
		cache = []byte(os.TempDir())
	}
	bin := filepath.Join(strings.TrimSpace(string(cache)), "mailslot-nats-server", hex.EncodeToString(h.Sum(nil))[:16], "nats-server")
	if _, err := os.Stat(bin); err == nil {
		built = bin
		return bin
	}
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		t.Fatalf("build nats-server: %v", err)
	}
	start := time.Now()
	tmp := bin + fmt.Sprintf(".%d", os.Getpid())
	cmd := exec.Command("go", "build", "-o", tmp, "github.com/nats-io/nats-server/v2")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build nats-server in %s: %v\n%s", dir, err, out)
	}
	if err := os.Rename(tmp, bin); err != nil {
		t.Fatalf("build nats-server: %v", err)
	}
	t.Logf("built nats-server in %v (kept at %s)", time.Since(start).Round(time.Second), bin)
	built = bin
	return bin
}

// Password is every site user's password in the test cluster.
const Password = "mailslot-test"

// Site is one site: its LAN and its NATS node.
type Site struct {
	Name string   // site1, site2, ...: the node's server name and the user's
	LAN  *lab.LAN // the site's hosts' LAN
	Node *Node
}

// Node is one nats-server of the cluster.
type Node struct {
	Name     string
	Host     *lab.Host  // on its site's LAN, and on the backbone
	Addr     netip.Addr // on the site's LAN, where the site's clients connect
	Backbone netip.Addr // where the other nodes route to it
	conf     string
	bin      string
	t        lab.T
	mu       sync.Mutex
	proc     *lab.Proc
}

// Sites is a cluster of sites.
type Sites struct {
	Sites    []*Site
	Backbone *lab.LAN
	dir      string
}

// New builds n sites and starts their NATS cluster (one node a site),
// with JetStream. Each site's user (its Name, password Password) belongs
// to account MAILSLOT, as the README's example configuration has it, and
// may publish and subscribe anything under mailslot. (and use JetStream).
func New(t lab.T, n int) *Sites { return NewWith(t, make([]Permissions, n)) }

// Permissions are what one site's user may do, as in the README's
// example configuration: publish and subscribe the group records of its
// Workgroups, subscribe the records to its Computers, publish records to
// any computer and ask any workgroup for a member, answer requests, and
// use JetStream for the durable messenger. The zero value allows all of
// mailslot.>.
type Permissions struct {
	Workgroups, Computers []string
}

func (p Permissions) String() string {
	if len(p.Workgroups) == 0 && len(p.Computers) == 0 {
		return `{
        publish: {allow: ["mailslot.>", "$JS.API.>", "_INBOX.>"]}
        subscribe: {allow: ["mailslot.>", "_INBOX.>"]}
        allow_responses: true
      }`
	}
	pub := []string{`"mailslot.computer.>"`, `"mailslot.member.>"`, `"mailslot.held.>"`, `"$JS.API.>"`}
	sub := []string{`"_INBOX.>"`}
	for _, wg := range p.Workgroups {
		pub = append(pub, fmt.Sprintf("%q", "mailslot.group."+wg+".>"))
		sub = append(sub, fmt.Sprintf("%q", "mailslot.group."+wg+".>"), fmt.Sprintf("%q", "mailslot.member."+wg))
	}
	for _, c := range p.Computers {
		sub = append(sub, fmt.Sprintf("%q", "mailslot.computer."+c+".>"))
	}
	return fmt.Sprintf(`{
        publish: {allow: [%s]}
        subscribe: {allow: [%s]}
        allow_responses: true
      }`, strings.Join(pub, ", "), strings.Join(sub, ", "))
}

// NewWith is New with each site's user's permissions (perms[i] for site
// i+1; one site a Permissions).
func NewWith(t lab.T, perms []Permissions) *Sites {
	t.Helper()
	n := len(perms)
	s := &Sites{Backbone: lab.New(t)} // skips without root or namespaces
	bin := BuildServer(t)
	dir, err := os.MkdirTemp("", "natslab")
	if err != nil {
		t.Fatalf("natslab: %v", err)
	}
	s.dir = dir
	t.Cleanup(func() { os.RemoveAll(dir) })
	for i := 0; i < n; i++ {
		site := &Site{Name: fmt.Sprintf("site%d", i+1), LAN: lab.New(t)}
		h := site.LAN.AddHost("NATS" + fmt.Sprint(i+1))
		site.Node = &Node{Name: site.Name, Host: h, Addr: h.Addr, Backbone: s.Backbone.Attach(h), bin: bin, t: t}
		s.Sites = append(s.Sites, site)
	}
	for _, site := range s.Sites {
		nd := site.Node
		var routes []string
		for _, o := range s.Sites {
			if o != site {
				routes = append(routes, fmt.Sprintf("nats-route://%s:6222", o.Node.Backbone))
			}
		}
		nd.conf = filepath.Join(dir, nd.Name+".conf")
		conf := fmt.Sprintf(serverConf, nd.Name, nd.Backbone, strings.Join(routes, ", "), filepath.Join(dir, nd.Name+"-js"), s.users(perms))
		if err := os.WriteFile(nd.conf, []byte(conf), 0o644); err != nil {
			t.Fatalf("natslab: %v", err)
		}
		nd.Start()
	}
	s.waitRoutes(t)
	return s
}

// serverConf is a node's configuration: name, backbone address, routes,
// JetStream directory, users.
const serverConf = `server_name: %s
listen: 0.0.0.0:4222
cluster {
  name: mailslot
  listen: %s:6222
  routes: [%s]
  connect_retries: 120
}
jetstream {
  store_dir: %q
  max_memory_store: 64MB
  max_file_store: 256MB
}
accounts {
  MAILSLOT {
    jetstream: enabled
    users: [
%s    ]
  }
  SYS { users: [{user: sys, password: sys}] }
}
system_account: SYS
`

// users writes each site's user with its permissions.
func (s *Sites) users(perms []Permissions) string {
	var b strings.Builder
	for i, site := range s.Sites {
		fmt.Fprintf(&b, "      {user: %s, password: %q, permissions: %s}\n", site.Name, Password, perms[i])
	}
	return b.String()
}

// Start starts the node (again, after Stop).
func (nd *Node) Start() {
	nd.t.Helper()
	nd.mu.Lock()
	defer nd.mu.Unlock()
	p := nd.Host.Start(nd.t, nd.bin, "-c", nd.conf)
	if !p.WaitFor("Server is ready", 15*time.Second) {
		nd.t.Fatalf("nats-server %s did not start:\n%s", nd.Name, p.Output())
	}
	nd.proc = p
}

// Stop kills the node (SIGKILL: as a crash, or a cut cable).
func (nd *Node) Stop() {
	nd.mu.Lock()
	p := nd.proc
	nd.mu.Unlock()
	if p == nil {
		return
	}
	_ = p.Signal(os.Kill)
	_ = p.Wait(10 * time.Second)
}

// Output is what the running (or last) nats-server process printed.
func (nd *Node) Output() string {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	if nd.proc == nil {
		return ""
	}
	return nd.proc.Output()
}

// URL is the node's client URL for a site's user.
func (nd *Node) URL(user string) string {
	return fmt.Sprintf("nats://%s:%s@%s:4222", user, Password, nd.Addr)
}

// SiteURL is the URL a site's mailslotd hosts use: their node, as their
// site's user.
func (site *Site) URL() string { return site.Node.URL(site.Name) }

// Dialer dials from inside a lab host's namespace, for NATS clients of
// the test process.
type Dialer struct{ H *lab.Host }

// Dial opens a TCP connection from the host.
func (d Dialer) Dial(network, address string) (net.Conn, error) {
	var c net.Conn
	err := d.H.Run(func() (err error) {
		c, err = net.DialTimeout(network, address, 2*time.Second)
		return err
	})
	return c, err
}

// Connect connects the test process to a site's node as if from host h.
func (site *Site) Connect(h *lab.Host, opts ...nats.Option) (*nats.Conn, error) {
	opts = append([]nats.Option{nats.SetCustomDialer(Dialer{h}), nats.Timeout(2 * time.Second)}, opts...)
	return nats.Connect(site.URL(), opts...)
}

// waitRoutes waits until a message published at each node reaches a
// subscriber at every other: the routes are up and have exchanged
// interest.
func (s *Sites) waitRoutes(t lab.T) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	conns := make([]*nats.Conn, len(s.Sites))
	for i, site := range s.Sites {
		// As the system account's user, whom the sites' permissions do
		// not bind.
		nc, err := nats.Connect(fmt.Sprintf("nats://sys:sys@%s:4222", site.Node.Addr),
			nats.SetCustomDialer(Dialer{site.Node.Host}), nats.Timeout(2*time.Second))
		if err != nil {
			t.Fatalf("connect to %s: %v", site.Name, err)
		}
		defer nc.Close()
		conns[i] = nc
	}
	for i, from := range conns {
		for j, to := range conns {
			if i == j {
				continue
			}
			subj := fmt.Sprintf("natslab.probe.%d.%d", i, j)
			sub, err := to.SubscribeSync(subj)
			if err != nil {
				t.Fatalf("natslab: %v", err)
			}
			_ = to.Flush()
			for {
				_ = from.Publish(subj, []byte("probe"))
				if _, err := sub.NextMsg(100 * time.Millisecond); err == nil {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("natslab: no route from %s to %s after 30s:\n%s\n%s", s.Sites[i].Name, s.Sites[j].Name,
						s.Sites[i].Node.Output(), s.Sites[j].Node.Output())
				}
			}
			_ = sub.Unsubscribe()
		}
	}
}

// WaitJetStream waits until the cluster's JetStream has a meta leader
// (a durable stream can be made).
func (s *Sites) WaitJetStream(t lab.T) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		for _, site := range s.Sites {
			if strings.Contains(site.Node.Output(), "JetStream cluster new metadata leader") ||
				strings.Contains(site.Node.Output(), "Self is new JetStream cluster metadata leader") {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("natslab: JetStream elected no meta leader in 60s")
}
