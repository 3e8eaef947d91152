//go:build !windows

package mailslotd

import (
	"github.com/mailslot-go/mailslot/daemon/natsbridge"
)

// natsFlags adds the NATS bridge's flags (keys of the same names in the
// config file, MAILSLOTD_NATS... in the environment); str adds a flag
// that takes a value, boolean one that does not.
func natsFlags(str func(key, def, help string), boolean func(key, help string)) {
	str("nats", "off", "bridge to mailslotd hosts on other sites through the NATS servers at `URLS` (nats://host:4222, comma-separated); see the README")
	str("nats-creds", "none", "authenticate to NATS with the credentials `FILE` (user JWT and nkey seed)")
	str("nats-nkey", "none", "authenticate to NATS with the nkey seed in `FILE`")
	str("nats-tls-cert", "none", "client certificate `FILE` for NATS servers that ask for one (with --nats-tls-key)")
	str("nats-tls-key", "none", "the client certificate's key `FILE`")
	str("nats-tls-ca", "the system's", "verify the NATS servers with the CA certificates in `FILE`")
	str("nats-site", "the NATS server's name", "`NAME` of this computer's site, shown with its records on other sites")
	boolean("nats-durable-messenger", "keep messenger records for this computer in a JetStream stream while its messenger is down, and deliver them when it is back")
	str("nats-durable-max-age", natsbridge.DefaultDurableMaxAge.String(), "keep a messenger record at most `DURATION`")
	str("nats-durable-max-msgs", "1000", "keep at most `N` messenger records (the oldest go first)")
}

// shown is a setting's value as the log may show it: the NATS servers'
// URLs without their passwords or tokens.
func shown(key, v string) string {
	if key == "nats" && v != "" {
		return natsbridge.Redacted(v)
	}
	return v
}
