// Package version tells which build of mailslot is running, from the
// build information the Go toolchain embeds in every binary.
package version

import (
	"runtime/debug"
	"strings"
)

// Info is what a binary knows of its own build.
type Info struct {
	Module    string `json:"module"`             // main module path
	Version   string `json:"version"`            // module version, "(devel)" for a build from a work tree
	Revision  string `json:"revision,omitempty"` // vcs revision, when the build recorded it
	Time      string `json:"time,omitempty"`     // vcs commit time
	Modified  bool   `json:"modified,omitempty"` // the work tree had changes
	GoVersion string `json:"go_version"`
}

// Get returns the running binary's build information; a binary built
// without it (or a test) gets "unknown" fields.
func Get() Info {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return Info{Module: "unknown", Version: "unknown", GoVersion: "unknown"}
	}
	return FromBuildInfo(bi)
}

// FromBuildInfo extracts Info from build information.
func FromBuildInfo(bi *debug.BuildInfo) Info {
	in := Info{Module: bi.Main.Path, Version: bi.Main.Version, GoVersion: bi.GoVersion}
	if in.Version == "" {
		in.Version = "(devel)"
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			in.Revision = s.Value
		case "vcs.time":
			in.Time = s.Value
		case "vcs.modified":
			in.Modified = s.Value == "true"
		}
	}
	return in
}

// String is the line --version prints: `PROGRAM VERSION (revision
// REV[, modified], TIME) GOVERSION`.
func (in Info) String(program string) string {
	var b strings.Builder
	b.WriteString(program + " " + in.Version)
	if in.Revision != "" {
		b.WriteString(" (revision " + in.Revision)
		if in.Modified {
			b.WriteString(", modified")
		}
		if in.Time != "" {
			b.WriteString(", " + in.Time)
		}
		b.WriteString(")")
	}
	b.WriteString(" " + in.GoVersion)
	if in.Module != "" {
		b.WriteString(" " + in.Module)
	}
	return b.String()
}
