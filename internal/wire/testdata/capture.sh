#!/bin/bash
# Captures real NetBIOS traffic from Samba's nmbd inside two private network
# namespaces (no traffic leaves them) and writes the UDP payloads as hex, one
# packet per line, into nmbd-dgm.hex (UDP 138) and nmbd-ns.hex (UDP 137).
# Needs root, samba, samba-common-bin (nmblookup) and tshark. See README.md.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
secs=${CAPTURE_SECONDS:-40}
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

ip netns exec $B tshark -q -i wcapb -f 'udp port 137 or udp port 138' -w "$tmp/cap.pcap" 2>"$tmp/tshark.log" &
tshark_pid=$!
sleep 3
ip netns exec $A nmbd -F --no-process-group --debug-stdout -s "$tmp/smb.conf" >"$tmp/nmbd.log" 2>&1 &
nmbd_pid=$!
sleep $((secs / 2))
ip netns exec $B nmblookup -s "$tmp/smb.conf" -U 10.213.7.1 SAMBAHOST || true
ip netns exec $B nmblookup -s "$tmp/smb.conf" -U 10.213.7.1 NOSUCHHOST || true
ip netns exec $B nmblookup -s "$tmp/smb.conf" -U 10.213.7.1 -S SAMBAHOST || true
ip netns exec $B nmblookup -s "$tmp/smb.conf" -B 10.213.7.255 'LABGROUP#1d' || true
ip netns exec $B nmblookup -s "$tmp/smb.conf" -B 10.213.7.255 'LABGROUP#1e' || true
sleep $((secs / 2))
ip netns exec $B nmblookup -s "$tmp/smb.conf" -B 10.213.7.255 'LABGROUP#1d' || true
sleep 2
kill "$tshark_pid"; wait "$tshark_pid" 2>/dev/null || true; tshark_pid=
kill "$nmbd_pid"; wait "$nmbd_pid" 2>/dev/null || true; nmbd_pid=
tshark -r "$tmp/cap.pcap" -Y 'udp.port == 138' -T fields -e udp.payload >"$here/nmbd-dgm.hex"
tshark -r "$tmp/cap.pcap" -Y 'udp.port == 137' -T fields -e udp.payload >"$here/nmbd-ns.hex"
tshark -r "$tmp/cap.pcap" >"$here/nmbd-capture.txt"
if [ -n "${KEEP_PCAP:-}" ]; then cp "$tmp/cap.pcap" "$KEEP_PCAP"; cp "$tmp/nmbd.log" "$KEEP_PCAP.nmbd.log"; fi
wc -l "$here"/nmbd-*.hex
