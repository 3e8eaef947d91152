package hostinfo

// Default ports.
const (
	DefaultNamePort   = 137
	DefaultDgramPort  = 138
	DefaultStreamPort = 1138
	DefaultWorkgroup  = "WORKGROUP"
)

// Info is what a client needs to speak as its computer.
type Info struct {
	Name       string `json:"name"`      // NetBIOS computer name
	Workgroup  string `json:"workgroup"` // primary domain for `\\*`
	NamePort   int    `json:"name_port"`
	DgramPort  int    `json:"dgram_port"`
	StreamPort int    `json:"stream_port"`
	// WINS lists the NetBIOS name servers mailslotd registers with, as
	// ADDR:PORT separated by commas (see NameServers), and Node the node
	// type clients resolve names by ("B", "P", "M" or "H"; empty: see
	// NodeType). An Info stays comparable with ==. On Windows, where no
	// mailslotd runs, they stay empty: names resolve as a B node.
	WINS string `json:"wins,omitempty"`
	Node string `json:"node_type,omitempty"`
	// Multicast is the group workgroup datagrams also go to, as
	// GROUP:PORT, with MulticastTTL hops (see MulticastGroup).
	Multicast    string `json:"multicast,omitempty"`
	MulticastTTL int    `json:"multicast_ttl,omitempty"`
	// Bridge says that the mailslotd is bridged to other sites (mailslotd
	// --nats): it takes records for computers not on the LAN, and group
	// records over the datagram limit, on its stream port.
	Bridge bool `json:"bridge,omitempty"`
	Daemon bool `json:"-"` // a mailslotd answered (never on Windows)
}

// Default is who this computer is when neither mailslotd nor (on
// Windows) the system says: its host name as a NetBIOS name (HostName),
// WORKGROUP and the default ports.
func Default() Info {
	return Info{
		Name:       HostName(),
		Workgroup:  DefaultWorkgroup,
		NamePort:   DefaultNamePort,
		DgramPort:  DefaultDgramPort,
		StreamPort: DefaultStreamPort,
	}
}
