//go:build windows

package main

// benchChild does nothing: `mailslot bench` measures the local transport
// and mailslotd, neither of which Windows uses, so the verb does not exist
// there.
func benchChild() {}
