//go:build !windows

package main

import "github.com/mailslot-go/mailslot/internal/bench"

// benchChild runs this process as one of `mailslot bench`'s writers when
// the bench started it as one, and does not return then.
func benchChild() { bench.Child() }
