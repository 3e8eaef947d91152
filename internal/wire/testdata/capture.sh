#!/bin/bash
# Captures real NetBIOS traffic from Samba's nmbd inside two private network
# namespaces (no traffic leaves them) and writes the UDP payloads as hex, one
# packet per line, into nmbd-dgm.hex (UDP 138) and nmbd-ns.hex (UDP 137),
# tshark's one-line summary into nmbd-capture.txt, and what nmbd logged
# about the packets package wire sent it into nmbd-log-excerpt.txt.
# Needs root, go, samba, samba-common-bin (nmblookup) and tshark. Run it
# from anywhere; see README.md.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
secs=${CAPTURE_SECONDS:-60}
A=wcap-a B=wcap-b
tmp=$(mktemp -d)
cleanup() {
	[ -n "${nmbd_pid:-}" ] && kill "$nmbd_pid" 2>/dev/null || true
	[ -n "${tshark_pid:-}" ] && kill "$tshark_pid" 2>/dev/null || true
	sleep 1
	ip netns del $A 2>/dev/null || true
	ip netns del $B 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
(cd "$here/../../.." && go build -o "$tmp/sendframes" ./internal/wire/testdata/sendframes)
ip netns add $A
ip netns add $B
ip link add wcapa type veth peer name wcapb
ip link set wcapa netns $A
ip link set wcapb netns $B
ip -n $A addr add 10.213.7.1/24 dev wcapa
ip -n $B addr add 10.213.7.2/24 dev wcapb
for ns in $A $B; do ip -n $ns link set lo up; done
ip -n $A link set wcapa up
ip -n $B link set wcapb up

mkdir -p "$tmp"/{lock,state,cache,private,pid}
cat >"$tmp/smb.conf" <<CONF
[global]
  netbios name = SAMBAHOST
  workgroup = LABGROUP
  server string = mailslot capture host
  interfaces = wcapa
  bind interfaces only = yes
  lock directory = $tmp/lock
  state directory = $tmp/state
  cache directory = $tmp/cache
  private dir = $tmp/private
  pid directory = $tmp/pid
  log file = $tmp/log.%m
  local master = yes
  preferred master = yes
  domain master = no
  os level = 65
  log level = 3
  disable netbios = no
CONF
# nmblookup reads smb.conf too: give it the client side's interface.
sed 's/interfaces = wcapa/interfaces = wcapb/' "$tmp/smb.conf" >"$tmp/client.conf"

ip netns exec $B tshark -q -i wcapb -f 'udp port 137 or udp port 138' -w "$tmp/cap.pcap" 2>"$tmp/tshark.log" &
tshark_pid=$!
sleep 3
ip netns exec $A nmbd -F --no-process-group --debug-stdout -s "$tmp/smb.conf" >"$tmp/nmbd.log" 2>&1 &
nmbd_pid=$!
sleep 25 # nmbd wins the browser election and registers LABGROUP<1d> after about 20 s
lookup() { ip netns exec $B nmblookup -s "$tmp/client.conf" "$@" || true; }
lookup -U 10.213.7.1 SAMBAHOST
lookup -U 10.213.7.1 NOSUCHHOST
lookup -U 10.213.7.1 -S SAMBAHOST
lookup -B 10.213.7.255 'LABGROUP#1d'
lookup -B 10.213.7.255 'LABGROUP#1e'
# Packets encoded by package wire, and nmbd's answers decoded by it.
ip netns exec $B "$tmp/sendframes" -local 10.213.7.2 -peer 10.213.7.1 -bcast 10.213.7.255
sleep $((secs > 50 ? secs - 50 : 1))
sleep 2
kill "$tshark_pid"; wait "$tshark_pid" 2>/dev/null || true; tshark_pid=
kill "$nmbd_pid"; wait "$nmbd_pid" 2>/dev/null || true; nmbd_pid=
tshark -r "$tmp/cap.pcap" -Y 'udp.port == 138' -T fields -e udp.payload >"$here/nmbd-dgm.hex"
tshark -r "$tmp/cap.pcap" -Y 'udp.port == 137' -T fields -e udp.payload >"$here/nmbd-ns.hex"
tshark -r "$tmp/cap.pcap" >"$here/nmbd-capture.txt"
grep -iE 'MAILSLOTHOST|EXACTHOST|RULEHOST|status request for name|send_local_master_announcement|send_workgroup_announcement' "$tmp/nmbd.log" >"$here/nmbd-log-excerpt.txt" || true
if [ -n "${KEEP_PCAP:-}" ]; then cp "$tmp/cap.pcap" "$KEEP_PCAP"; cp "$tmp/nmbd.log" "$KEEP_PCAP.nmbd.log"; fi
wc -l "$here"/nmbd-*.hex
